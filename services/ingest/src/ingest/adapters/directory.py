"""The device registry as ingest sees it: identifier HMAC to device id, read from the compacted
``identity.device-registry.v1`` topic into memory and kept current."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from ingest.ports import Registration
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_kafka.settings import KafkaSettings

log = logging.getLogger(__name__)


async def reader_of(settings: KafkaSettings, topics: list[str], client_id: str) -> AIOKafkaConsumer:
    """A started consumer that reads every partition of ``topics`` outside any group (each
    instance sees everything), positioned nowhere in particular: callers seek."""
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


REGISTRY_TOPIC = "identity.device-registry.v1"


class InMemoryDirectory:
    """A registry tests and the simulator seed directly."""

    def __init__(self) -> None:
        self._by_hmac: dict[bytes, Registration] = {}
        self._hmac_of: dict[str, bytes] = {}

    def lookup(self, identifier_hmac: bytes) -> Registration | None:
        return self._by_hmac.get(identifier_hmac)

    def apply(self, device_id: str, registered: DeviceRegistered | None) -> None:
        """A record of the registry topic: a registration, or None for a tombstone."""
        old = self._hmac_of.pop(device_id, None)
        if old is not None:
            self._by_hmac.pop(old, None)
        if registered is not None:
            self._by_hmac[registered.identifier_hmac] = Registration(
                device_id=device_id, timezone=registered.device_timezone
            )
            self._hmac_of[device_id] = registered.identifier_hmac

    def __len__(self) -> int:
        return len(self._by_hmac)


class KafkaDirectory(InMemoryDirectory):
    """Reads the whole compacted topic at start (``ready`` once caught up), then follows it."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__()
        self._settings = settings
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        consumer = await reader_of(self._settings, [REGISTRY_TOPIC], "ingest-directory")
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
                        self._apply_record(record.key, record.value)
                        if record.offset + 1 >= end[tp]:
                            behind.discard(tp)
                if behind and not self.ready.is_set():
                    behind = {tp for tp in behind if await consumer.position(tp) < end[tp]}
                if not behind and not self.ready.is_set():
                    log.info("device registry loaded", extra={"devices": len(self)})
                    self.ready.set()
        finally:
            await consumer.stop()

    def _apply_record(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        device_id = key.decode()
        if value is None:
            self.apply(device_id, None)
            return
        registered = DeviceRegistered()
        try:
            registered.ParseFromString(value)
        except Exception:
            log.error("unreadable registry record skipped", extra={"device_id": device_id})
            return
        self.apply(device_id, registered)
