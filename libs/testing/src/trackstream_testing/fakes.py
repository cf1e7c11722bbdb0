"""In-memory stand-ins for the Kafka publisher, for unit tests of handlers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from google.protobuf.message import Message

from trackstream_events.envelope import Envelope
from trackstream_events.registry import type_name
from trackstream_kafka.publisher import Outgoing


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    topic: str
    key: str
    message: Message | None  # None: a tombstone, or a raw record
    envelope: Envelope | None
    #: the bytes of a raw record (``publish_records``)
    value: bytes | None = None


class FakePublisher:
    """Records what would have been published; same methods as ``EventPublisher``.

    ``fail_next`` makes the next publish raise, as Kafka failing to acknowledge would."""

    def __init__(self, *, source: str = "/tests") -> None:
        self.source = source
        self.published: list[PublishedEvent] = []
        self.fail_next: Exception | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(
        self,
        topic: str,
        event: Message,
        *,
        key: str,
        time_: datetime | None = None,
        cause: Envelope | None = None,
    ) -> Envelope:
        self._maybe_fail()
        etype = type_name(event)
        envelope = (
            cause.caused(type=etype, source=self.source, subject=key)
            if cause
            else Envelope(type=etype, source=self.source, subject=key)
        )
        if time_ is not None:
            envelope = replace(envelope, time=time_)
        self.published.append(PublishedEvent(topic, key, event, envelope))
        return envelope

    async def publish_many(
        self, items: Sequence[Outgoing], *, as_batches: bool = False
    ) -> list[Envelope]:
        self._maybe_fail()
        envelopes = []
        for item in items:
            envelope = await self.publish(
                item.topic, item.event, key=item.key, time_=item.time, cause=item.cause
            )
            if item.event_id is not None:
                envelope = replace(envelope, id=item.event_id)
                self.published[-1] = replace(self.published[-1], envelope=envelope)
            envelopes.append(envelope)
        return envelopes

    async def publish_records(
        self, topic: str, records: Sequence[tuple[str, bytes | None]]
    ) -> None:
        self._maybe_fail()
        for key, value in records:
            self.published.append(PublishedEvent(topic, key, None, None, value))

    async def publish_tombstone(self, topic: str, *, key: str) -> None:
        self._maybe_fail()
        self.published.append(PublishedEvent(topic, key, None, None))

    async def publish_tombstones(self, topic: str, keys: Sequence[str]) -> list[tuple[int, int]]:
        """Tombstones; (partition 0, offset) of each, offsets counting this fake's records."""
        self._maybe_fail()
        written = []
        for key in keys:
            written.append((0, len(self.published)))
            self.published.append(PublishedEvent(topic, key, None, None))
        return written

    def on(self, topic: str) -> list[PublishedEvent]:
        return [p for p in self.published if p.topic == topic]

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            err, self.fail_next = self.fail_next, None
            raise err
