"""The alarm service against the real stack: scripted tracks published to Kafka, alarms read
back from alarm.alarms.v1 and over gRPC."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from alarm.bootstrap import AlarmApp, bootstrap
from alarm.config import AlarmSettings
from tests.integration.helpers import SealedRecords, start_group_at_end
from trackstream.alarm.v1 import alarm_pb2
from trackstream.alarm.v1 import alarm_service_pb2_grpc as pb_grpc
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.erasure import ORDERS_TOPIC


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def position(
    device_id: str, when: datetime, lat: float, lon: float, speed: float, ignition: bool
) -> PositionReported:
    return PositionReported(
        device_id=device_id,
        fix=Fix(fix_time=ts(when), latitude=lat, longitude=lon, speed_kmh=speed, valid=True),
        received_time=ts(datetime.now(UTC)),
        origin=Origin(message_serial=1),
        ignition=ignition,
    )


@dataclass
class Fleet:
    """A unique account with unique devices, registered for the test."""

    account_id: str
    device_ids: list[str]


async def register_fleet(devices: int = 1) -> Fleet:
    fleet = Fleet(
        account_id=f"acc-{uuid.uuid4().hex[:10]}",
        device_ids=[f"dev-{uuid.uuid4().hex[:10]}" for _ in range(devices)],
    )
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        await publisher.publish_many(
            [
                Outgoing(
                    "identity.device-registry.v1",
                    DeviceRegistered(
                        device_id=d,
                        identifier_hmac=uuid.uuid4().bytes,
                        owner_account_id=fleet.account_id,
                    ),
                    key=d,
                )
                for d in fleet.device_ids
            ]
        )
    finally:
        await publisher.stop()
    return fleet


async def publish(events: Sequence[PositionReported | Any], topic: str) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
    await publisher.start()
    try:
        await publisher.publish_many([Outgoing(topic, e, key=e.device_id) for e in events])
    finally:
        await publisher.stop()


class AlarmTap:
    """alarm.alarms.v1 from its end at creation: the alarms of the given devices, in order."""

    def __init__(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=KafkaSettings().bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
        )
        self.alarms: list[alarm_pb2.AlarmRaised] = []
        self._sealed: SealedRecords | None = None

    async def start(self) -> AlarmTap:
        self._sealed = SealedRecords()  # alarms are sealed: opened as the consumers do
        await self._consumer.start()
        tps = [TopicPartition("alarm.alarms.v1", p) for p in range(3)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:
            await self._consumer.position(tp)
        return self

    async def stop(self) -> None:
        await self._consumer.stop()
        if self._sealed is not None:
            self._sealed.close()

    async def collect(
        self, device_id: str, count: int, *, within: float = 30, settle: float = 1.0
    ) -> list[alarm_pb2.AlarmRaised]:
        """Wait for ``count`` alarms of the device, then ``settle`` seconds more for extras
        (duplicates must show up in the result, not hide behind an early return)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        extra_until: float | None = None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            assert self._sealed is not None
            for records in batch.values():
                self.alarms += await self._sealed.events(records, alarm_pb2.AlarmRaised)
            mine = [a for a in self.alarms if a.device_id == device_id]
            now = loop.time()
            if len(mine) >= count and extra_until is None:
                extra_until = now + settle
            if (extra_until is not None and now >= extra_until) or now > deadline:
                return sorted(mine, key=lambda a: (a.alarm_time.ToDatetime(), a.type))


def names(alarms: Sequence[alarm_pb2.AlarmRaised]) -> list[str]:
    return [alarm_pb2.AlarmType.Name(a.type).removeprefix("ALARM_TYPE_") for a in alarms]


@pytest.fixture
async def tap() -> AsyncIterator[AlarmTap]:
    t = await AlarmTap().start()
    yield t
    await t.stop()


class AlarmRunner:
    """Alarm services in-process on the real stack; each its own consumer groups unless told."""

    def __init__(self) -> None:
        self._running: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._erasure_groups: set[str] = set()

    async def start(self, **overrides: Any) -> AlarmApp:
        suffix = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "grpc_port": 0,
            "consumer_group": f"alarm-test-{suffix}",
            "history_group": f"alarm-history-test-{suffix}",
            "sweep_interval_s": 0.5,
        }
        settings = AlarmSettings(**(values | overrides))
        erasure_group = f"{settings.consumer_group}-erasure"
        if erasure_group not in self._erasure_groups:  # not while an instance is in it
            await start_group_at_end(KafkaSettings(), erasure_group, ORDERS_TOPIC)
            self._erasure_groups.add(erasure_group)
        app = bootstrap(settings)
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        self._running[id(app)] = (stopping, task)
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert app.ready.is_set(), "the alarm service did not become ready"
        return app

    async def stop(self, app: AlarmApp) -> None:
        stopping, task = self._running.pop(id(app))
        stopping.set()
        await asyncio.wait_for(task, 60)

    async def stop_all(self) -> None:
        for stopping, task in self._running.values():
            stopping.set()
            await asyncio.wait_for(task, 60)
        self._running.clear()


@pytest.fixture
async def alarm_service() -> AsyncIterator[AlarmRunner]:
    runner = AlarmRunner()
    yield runner
    await runner.stop_all()


def stub(app: AlarmApp) -> tuple[grpc.aio.Channel, pb_grpc.AlarmServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    return channel, pb_grpc.AlarmServiceStub(channel)
