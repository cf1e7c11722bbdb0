"""What the handler needs from outside, as protocols; adapters and fakes implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from trackstream_events.envelope import Envelope
from trackstream_kafka.publisher import Outgoing


class Publisher(Protocol):
    async def publish_many(self, items: Sequence[Outgoing]) -> list[Envelope]: ...


class ManagedPublisher(Publisher, Protocol):
    """A publisher with a lifetime (the Kafka one, or a fake in tests)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Registration:
    device_id: str
    #: IANA zone from the registry, used when the device's login does not say
    timezone: str = ""
    #: consent to precise location (LocationConsent numbers), and a minor's guardian's
    location_consent: int = 0
    worn_by_minor: bool = False
    guardian_consent: bool = False


class DeviceDirectory(Protocol):
    def lookup(self, identifier_hmac: bytes) -> Registration | None: ...


class MediaStore(Protocol):
    bucket: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
