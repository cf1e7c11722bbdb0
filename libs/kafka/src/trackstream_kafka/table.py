"""A compacted topic held in memory: the latest value of every key, kept current.

Read outside any consumer group (every instance sees everything): the whole topic at start
(``ready`` is set once caught up), then followed. A tombstone (null value) removes its key. A
value that cannot be decoded is skipped and logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer

from trackstream_kafka.settings import KafkaSettings

log = logging.getLogger(__name__)
V = TypeVar("V")


async def reader_of(settings: KafkaSettings, topics: list[str], client_id: str) -> AIOKafkaConsumer:
    """A started consumer that reads every partition of ``topics`` outside any group (each
    instance sees everything), positioned at the earliest offsets unless the caller seeks."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=client_id,
    )
    await consumer.start()
    for _ in range(200):
        assigned = consumer.assignment()
        if {tp.topic for tp in assigned} == set(topics):
            return consumer
        await asyncio.sleep(0.05)
    await consumer.stop()
    raise RuntimeError(f"no partitions for {', '.join(topics)}: run provisioning")


class CompactedTable(Generic[V]):
    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        decode: Callable[[bytes], V],
        *,
        client_id: str,
        on_change: Callable[[str, V | None], None] | None = None,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._decode = decode
        self._client_id = client_id
        self._on_change = on_change
        self._values: dict[str, V] = {}
        self.ready = asyncio.Event()

    def get(self, key: str) -> V | None:
        return self._values.get(key)

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> list[tuple[str, V]]:
        """Every key and its latest value (a copy: safe to await while iterating)."""
        return list(self._values.items())

    def apply(self, key: str, value: V | None) -> None:
        """One record of the topic (None: a tombstone). Tests seed the table through it."""
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value
        if self._on_change is not None:
            self._on_change(key, value)

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = await reader_of(self._settings, [self._topic], self._client_id)
        try:
            partitions = sorted(consumer.assignment())
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            behind = {tp for tp in partitions if end[tp] > 0}
            if not behind:
                self.ready.set()
            while not stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for tp, records in batch.items():
                    for record in records:
                        self._record(record.key, record.value)
                        if record.offset + 1 >= end[tp]:
                            behind.discard(tp)
                if behind and not self.ready.is_set():
                    behind = {tp for tp in behind if await consumer.position(tp) < end[tp]}
                if not behind and not self.ready.is_set():
                    log.info("table loaded", extra={"topic": self._topic, "keys": len(self)})
                    self.ready.set()
        finally:
            await consumer.stop()

    def _record(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode()
        if value is None:
            self.apply(name, None)
            return
        try:
            decoded = self._decode(value)
        except Exception:
            log.error("unreadable record skipped", extra={"topic": self._topic})
            return
        self.apply(name, decoded)
