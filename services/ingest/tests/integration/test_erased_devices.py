"""Late data of an erased device on the real stack: once identity's tombstone is in the registry
topic, a connected device's next report is dropped (no position under the erased id reaches
Kafka) and it is disconnected; registered again, it reports under the new device id."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.bootstrap import IngestApp
from services.ingest.tests.integration.conftest import (
    KEY,
    REGISTRY,
    StartIngest,
    register,
    unique_imei,
)
from tests.integration.helpers import end_offsets
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.model import Fix

POSITIONS = "tracking.positions.v1"


def _fix(i: int) -> Fix:
    return Fix(
        fix_time=datetime.now(UTC).replace(microsecond=0),
        latitude=41.0 + i / 1000,
        longitude=29.0,
        speed_kmh=20.0,
        course_deg=0.0,
        valid=True,
        satellites=9,
    )


class Gt06:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.splitter = gt06.Gt06FrameSplitter()

    @classmethod
    async def login(cls, port: int, imei: str) -> Gt06:
        device = cls(*await asyncio.open_connection("127.0.0.1", port))
        assert await device.send(gt06_device.encode_login(imei, serial=1)), "login refused"
        return device

    async def send(self, frame: bytes) -> bool:
        """True once the frame is acknowledged, False when ingest closes the connection."""
        self.writer.write(frame)
        async with asyncio.timeout(20):
            while True:
                data = await self.reader.read(1024)
                if not data:
                    return False
                if self.splitter.feed(data):
                    return True

    def close(self) -> None:
        self.writer.close()


async def _until_registry_says(app: IngestApp, imei: str, device_id: str | None) -> None:
    hmac = identifier_hmac(KEY, imei)
    async with asyncio.timeout(30):
        while True:
            found = app.directory.lookup(hmac)
            if (found.device_id if found else None) == device_id:
                return
            await asyncio.sleep(0.05)


async def _positions_since(since: dict[TopicPartition, int], keys: set[str]) -> list[str]:
    """The keys (among ``keys``) of the positions published after ``since``."""
    settings = KafkaSettings()
    end = await end_offsets(settings, POSITIONS)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: list[str] = []
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(60):
            while [tp for tp in since if await consumer.position(tp) < end[tp]]:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [r.key.decode() for r in records if r.key and r.key.decode() in keys]
    finally:
        await consumer.stop()
    return found


async def test_an_erased_device_is_dropped_until_registered_again_under_a_new_id(
    start_ingest: StartIngest,
) -> None:
    run = uuid.uuid4().hex[:8]
    imei, erased, renewed = unique_imei(), f"dev-gone-{run}", f"dev-new-{run}"
    await register({imei: erased})
    app = await start_ingest()
    await _until_registry_says(app, imei, erased)
    since = await end_offsets(KafkaSettings(), POSITIONS)

    device = await Gt06.login(app.ports["gt06"], imei)
    assert await device.send(gt06_device.encode_location(_fix(1), serial=2))
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        await publisher.publish_tombstone(REGISTRY, key=erased)  # identity's erasure
    finally:
        await publisher.stop()
    await _until_registry_says(app, imei, None)
    # still connected: the next report is dropped and the connection closes
    assert not await device.send(gt06_device.encode_location(_fix(2), serial=3))
    device.close()
    # logs in again: an unknown device now (quarantined): acknowledged login, no position
    device = await Gt06.login(app.ports["gt06"], imei)
    with_timeout = asyncio.create_task(device.send(gt06_device.encode_location(_fix(3), serial=4)))
    done, _ = await asyncio.wait({with_timeout}, timeout=1.0)
    assert not done, "a quarantined device's position must not be acknowledged"
    with_timeout.cancel()
    device.close()

    await register({imei: renewed})  # identity registers the IMEI again: a new device id
    await _until_registry_says(app, imei, renewed)
    device = await Gt06.login(app.ports["gt06"], imei)
    assert await device.send(gt06_device.encode_location(_fix(4), serial=5))
    device.close()

    # one position each (different keys: different partitions, so no order between them)
    assert sorted(await _positions_since(since, {erased, renewed})) == sorted([erased, renewed])
