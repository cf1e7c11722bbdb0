"""What the handlers need from the outside world (adapters and fakes implement these)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

from google.protobuf.message import Message

from media.domain.linking import AlarmCandidate
from media.domain.model import MediaRecord
from media.domain.verify import StoredFacts


class ObjectStore(Protocol):
    bucket: str

    async def facts(self, bucket: str, key: str) -> StoredFacts | None: ...

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def put_named_by_hash(
        self, data: bytes, content_type: str, key_for: Callable[[str], str]
    ) -> tuple[str, str]:
        """Hash ``data`` (SHA-256, hex), store it under ``key_for(sha256)``; (sha256, key).
        One trip to a worker thread for both: the hash decides the key."""
        ...

    async def delete(self, bucket: str, key: str) -> None: ...

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Every version of every object under ``prefix``; returns how many were deleted."""
        ...

    def presigned_get(self, bucket: str, key: str, ttl_s: int) -> str: ...


class Catalogue(Protocol):
    async def add(self, record: MediaRecord, expires_day: date | None) -> None: ...

    async def get(self, media_id: str) -> MediaRecord | None: ...

    async def list_by_device(
        self, device_id: str, start: datetime, end: datetime, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]: ...

    async def list_by_alarm(
        self, alarm_id: str, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]: ...

    async def remove(self, record: MediaRecord) -> None: ...

    async def all_of_device(self, device_id: str) -> list[MediaRecord]: ...

    async def expiring(self, day: date) -> list[tuple[str, str]]:
        """(media_id, device_id) of what expires on ``day``."""
        ...

    async def forget_expiry_day(self, day: date) -> None: ...

    async def remember_capture(
        self, device_id: str, device_media_id: int, command_id: str
    ) -> None: ...

    async def capture_of(self, device_id: str, device_media_id: int) -> str | None: ...

    async def remember_alarm(self, alarm: AlarmCandidate, now: datetime) -> None:
        """An alarm waiting for its media (kept a day after the alarm time)."""
        ...

    async def alarms_near(
        self, device_id: str, start: datetime, end: datetime
    ) -> list[AlarmCandidate]:
        """The remembered alarms of the device with start <= alarm time <= end."""
        ...

    async def link_alarm(self, record: MediaRecord, alarm_id: str) -> None:
        """Link a catalogued record to ``alarm_id`` (unlinking the alarm it had, if any)."""
        ...

    async def forget_alarms(self, device_id: str) -> None: ...


class Publisher(Protocol):
    async def publish(self, topic: str, event: Message, *, key: str) -> object: ...


class Devices(Protocol):
    def device_of(self, identifier: str) -> str | None:
        """The device id an IMEI/phone resolves to in the registry (None: unknown/disabled)."""
        ...

    def account_of(self, device_id: str) -> str | None: ...
