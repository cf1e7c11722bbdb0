"""Positions through the real Kafka into the real Cassandra, read back over gRPC."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import grpc

from services.history.tests.integration.conftest import (
    DAY,
    StartHistory,
    position,
    track,
    wait_for_points,
)
from tests.integration.helpers import read_all
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

TOPIC = "tracking.positions.v1"


async def publish(events: Sequence[PositionReported]) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
    await publisher.start()
    try:
        await publisher.publish_many([Outgoing(TOPIC, e, e.device_id) for e in events])
    finally:
        await publisher.stop()


async def test_published_positions_are_readable_within_two_seconds_paged_and_in_order(
    start_history: StartHistory,
) -> None:
    app = await start_history()
    device = f"dev-h-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    # a new consumer group first reads the topic's history; once a marker is readable it is
    # caught up, and the 2 s bound applies from there
    marker = f"{device}-marker"
    await publish([position(marker, start, 0)])
    assert await wait_for_points(app, marker, start, start + DAY, 1, within=120)
    events = [position(device, start + timedelta(seconds=10 * i), i) for i in range(120)]
    published = time.monotonic()
    await publish(events)
    points = await wait_for_points(app, device, start, start + DAY, 120, within=2.0)
    assert time.monotonic() - published < 2.5
    assert len(points) == 120, f"only {len(points)} readable within 2 s"
    paged = await track(app, device, start, start + DAY, page_size=50)
    assert [p.message_serial for p in paged] == list(range(120))
    assert paged[5].fix.latitude == 41.0005

    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        last = await pb_grpc.HistoryServiceStub(channel).GetLastPositions(
            pb.GetLastPositionsRequest(device_ids=[device, "dev-unknown"])
        )
    [found] = last.positions
    assert found.device_id == device and found.point.message_serial == 119


async def test_replaying_the_topic_changes_nothing_and_late_data_lands_in_order(
    start_history: StartHistory,
) -> None:
    device = f"dev-h-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    recent = [
        position(device, now - timedelta(minutes=5) + timedelta(seconds=10 * i), 100 + i)
        for i in range(10)
    ]
    await publish(recent)
    first = await start_history()
    start = now - 4 * DAY
    # a new group replays the whole topic first (on a dev machine: every earlier run)
    before = await wait_for_points(first, device, start, now + DAY, 10, within=240)
    assert len(before) == 10

    # a buffered upload from three days ago, arriving now, shuffled
    old = [
        position(device, now - 3 * DAY + timedelta(seconds=10 * i), i, archived=True)
        for i in range(30)
    ]
    old = old[15:] + old[:15]
    await publish(old)
    after = await wait_for_points(first, device, start, now + DAY, 40, within=10)
    assert [p.message_serial for p in after] == list(range(30)) + list(range(100, 110))

    # a second consumer group reads the whole topic again from offset 0
    second = await start_history()
    replayed = await wait_for_points(second, device, start, now + DAY, 40, within=240)
    await asyncio.sleep(2)  # let it pass our records, rewriting them
    replayed = await track(second, device, start, now + DAY)
    assert [(p.message_serial, p.fix.fix_time.seconds, p.fix.latitude) for p in replayed] == [
        (p.message_serial, p.fix.fix_time.seconds, p.fix.latitude) for p in after
    ]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{second.grpc_port}") as channel:
        last = await pb_grpc.HistoryServiceStub(channel).GetLastPositions(
            pb.GetLastPositionsRequest(device_ids=[device])
        )
    assert last.positions[0].point.message_serial == 109, "the newest fix, not the last to arrive"


async def test_bad_input_is_flagged_or_dead_lettered_and_never_stops_the_consumer(
    start_history: StartHistory,
) -> None:
    app = await start_history()
    device = f"dev-h-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
    await publisher.start()
    try:
        await publisher.publish(TOPIC, position(device, now - timedelta(minutes=3), 1), key=device)
        await publisher.publish(
            TOPIC, position(device, now - timedelta(minutes=2), 2, latitude=123.0), key=device
        )
        await publisher.publish(TOPIC, position(device, now + 3 * DAY, 3), key=device)
        from trackstream_events.envelope import Envelope

        bad = Envelope(
            type="trackstream.tracking.v1.PositionReported", source="/tests", subject=device
        )
        await publisher.publish_raw(
            TOPIC, key=device.encode(), value=b"\xff\x00garbage", headers=bad.to_headers()
        )
        await publisher.publish(TOPIC, position(device, now - timedelta(minutes=1), 4), key=device)
    finally:
        await publisher.stop()
    points = await wait_for_points(app, device, now - DAY, now + 4 * DAY, 4, within=240)
    assert [(p.message_serial, p.flagged) for p in points] == [
        (1, ""),
        (2, "coordinates"),
        (4, ""),
        (3, "future"),
    ]
    # every consumer group dead-letters what it cannot parse: find this one's
    group = app.settings.consumer_group.encode()
    dead: list[object] = []
    for _ in range(60):
        dead = [
            r
            for r in await read_all(KafkaSettings(), f"{TOPIC}.dlq")
            if r.key == device.encode() and dict(r.headers)["dlq_consumer_group"] == group
        ]
        if dead:
            break
        await asyncio.sleep(0.5)
    assert len(dead) == 1 and dead[0].value == b"\xff\x00garbage"  # type: ignore[attr-defined]
