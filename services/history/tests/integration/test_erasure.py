"""History's erasure on the real Cassandra: a device's positions, addresses, days and last
position go, another device's stay, every planned table is acknowledged, a second run deletes
nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from history.adapters.store import PositionStore
from history.domain.model import PointAddress, TrackPoint
from history.erasure import PARTICIPANT, HistoryErasure
from privacy.domain.plan import PARTICIPANT_STORES
from services.history.tests.integration.conftest import StartHistory
from tests.integration.helpers import (
    acknowledgement,
    apply_erasure,
    deleted_counts,
    end_offsets,
    erasure_order,
)
from trackstream.privacy.v1.erasure_pb2 import SubjectKind
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_kafka.erasure import ACKS_TOPIC, ORDERS_TOPIC

#: exactly what the privacy service expects history to acknowledge
PLAN = set(PARTICIPANT_STORES["history"])


@pytest.fixture
async def cassandra() -> AsyncIterator[CassandraStore]:
    settings = CassandraSettings()
    store = CassandraStore(connect(settings, keyspace=settings.keyspace))
    yield store
    store.close()


def _points(device_id: str, start: datetime, days: int) -> list[TrackPoint]:
    return [
        TrackPoint(
            device_id=device_id,
            fix_time=start + timedelta(days=d, minutes=m),
            latitude=41.0 + m / 1000,
            longitude=29.0,
            speed_kmh=30.0,
            course_deg=0.0,
            valid=True,
            message_serial=m,
        )
        for d in range(days)
        for m in range(3)
    ]


async def _held(store: PositionStore, device_id: str, start: datetime, days: int) -> int:
    points = await store.track(
        device_id, start - timedelta(days=1), start + timedelta(days=days + 1), limit=1000
    )
    last = await store.last_positions([device_id])
    addressed = sum(1 for p in points if p.address)
    return len(points) + len(last) + addressed


async def test_a_devices_history_is_erased_and_another_kept(cassandra: CassandraStore) -> None:
    run = uuid.uuid4().hex[:8]
    erased, kept = f"dev-erase-{run}", f"dev-keep-{run}"
    store = PositionStore(cassandra, concurrency=16)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    for device in (erased, kept):
        points = _points(device, start, days=3)
        await store.write(points)
        await store.write_addresses(
            [PointAddress(p.device_id, p.fix_time, p.message_serial, "Somewhere 1") for p in points]
        )
    assert await _held(store, erased, start, 3) == 9 + 1 + 9
    # a fix up to a day ahead is still written as the newest: the delete must shadow it too
    await store.write(_points(erased, datetime.now(UTC) + timedelta(hours=20), days=1)[:1])

    erasure = HistoryErasure(cassandra, future_tolerance_s=24 * 3600.0)
    order = erasure_order(SubjectKind.SUBJECT_KIND_DEVICE, erased, device_ids=[erased])
    stores = await apply_erasure(PARTICIPANT, erasure.erase, order)

    assert set(stores) == PLAN
    assert deleted_counts(stores) == {
        "cassandra:positions_by_device_day": 4,
        "cassandra:position_addresses_by_device_day": 4,
        "cassandra:position_days_by_device": 4,
        "cassandra:last_position_by_device": 1,
    }
    now = datetime.now(UTC).timestamp()
    for s in stores.values():
        # gc_grace_seconds of the tables (3 days), read from the schema
        assert s.physically_gone_by.seconds == pytest.approx(now + 259_200, abs=120)
    assert await _held(store, erased, start, 4) == 0
    rows = await cassandra.execute(
        "SELECT device_id FROM position_addresses_by_device_day WHERE device_id = ? AND day = ?",
        (erased, start.date()),
    )
    assert rows == []
    assert await _held(store, kept, start, 3) == 9 + 1 + 9

    again = await apply_erasure(PARTICIPANT, erasure.erase, order)
    assert set(again) == PLAN
    assert set(deleted_counts(again).values()) == {0}


async def test_the_running_service_takes_an_order_from_kafka_and_acknowledges_it(
    cassandra: CassandraStore, start_history: StartHistory
) -> None:
    """The participant as bootstrap wires it: an order published on the orders topic is erased
    and acknowledged by the running service."""
    device = f"dev-erase-live-{uuid.uuid4().hex[:8]}"
    store = PositionStore(cassandra, concurrency=16)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    await store.write(_points(device, start, days=1))
    assert await _held(store, device, start, 1) == 3 + 1
    await start_history()
    kafka = KafkaSettings()
    since = await end_offsets(kafka, ACKS_TOPIC)
    order = erasure_order(SubjectKind.SUBJECT_KIND_DEVICE, device, device_ids=[device])
    publisher = EventPublisher.create(kafka, source="/tests/privacy")
    await publisher.start()
    try:
        await publisher.publish(ORDERS_TOPIC, order, key=order.request_id)
    finally:
        await publisher.stop()
    ack = await acknowledgement(kafka, order.request_id, PARTICIPANT, since)
    assert {s.store for s in ack.stores} == PLAN
    assert {s.store: s.deleted for s in ack.stores}["cassandra:positions_by_device_day"] == 1
    assert await _held(store, device, start, 1) == 0
