"""Addresses from geocoding.addresses.v1 show on the stored track, trips and last positions,
whichever arrives first; an address without its position creates no row."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc

from services.history.tests.integration.conftest import (
    DAY,
    StartHistory,
    position,
    track,
    ts,
    wait_for_points,
)
from tests.integration.helpers import start_group_at_end
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.geocoding.v1.place_pb2 import ADDRESS_SOURCE_OFFLINE, Place
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing


def address(p: PositionReported, line: str) -> AddressResolved:
    return AddressResolved(
        device_id=p.device_id,
        fix_time=p.fix.fix_time,
        message_serial=p.origin.message_serial,
        latitude=p.fix.latitude,
        longitude=p.fix.longitude,
        place=Place(name=line, address_line=line, source=ADDRESS_SOURCE_OFFLINE),
    )


async def publish(items: list[Outgoing]) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/geocoding")
    await publisher.start()
    try:
        await publisher.publish_many(items)
    finally:
        await publisher.stop()


async def test_addresses_join_their_positions_in_any_order(start_history: StartHistory) -> None:
    group = f"history-test-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(
        KafkaSettings(), group, "tracking.positions.v1", "geocoding.addresses.v1"
    )
    app = await start_history(consumer_group=group)
    device = f"dev-addr-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    # a drive: 40 fixes 10 s apart at about 50 km/h
    drive = [
        position(device, start + timedelta(seconds=10 * i), i, latitude=41.0 + i * 0.00125)
        for i in range(40)
    ]
    lines = {p.origin.message_serial: f"Place {p.origin.message_serial}, Türkiye" for p in drive}
    ghost = position(device, start + timedelta(seconds=5), 999)  # never stored

    # the first addresses arrive before their positions; the rest after; one has no position
    early = [
        Outgoing("geocoding.addresses.v1", address(p, lines[p.origin.message_serial]), device)
        for p in drive[:20]
    ]
    await publish([*early, Outgoing("geocoding.addresses.v1", address(ghost, "Nowhere"), device)])
    await publish([Outgoing("tracking.positions.v1", p, device) for p in drive])
    await publish(
        [
            Outgoing("geocoding.addresses.v1", address(p, lines[p.origin.message_serial]), device)
            for p in drive[20:39]  # the last fix gets its address later
        ]
    )
    assert len(await wait_for_points(app, device, start, start + DAY, 40, within=30)) == 40

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        points = await track(app, device, start, start + DAY, page_size=15)
        if sum(1 for p in points if p.address) >= 39 or loop.time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert [p.message_serial for p in points] == list(range(40))  # no half row for 999
    assert [p.address for p in points[:39]] == [lines[i] for i in range(39)]
    assert points[39].address == ""
    assert points[0].fix.latitude == 41.0  # the early address did not blank the position

    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = pb_grpc.HistoryServiceStub(channel)
        report = pb.GetReportRequest(
            device_id=device, start_time=ts(start), end_time=ts(start + DAY)
        )
        trips = await stub.GetTrips(report)
        assert trips.trips and trips.trips[0].start.address == lines[0]
        last = await stub.GetLastPositions(pb.GetLastPositionsRequest(device_ids=[device]))
        assert last.positions[0].point.message_serial == 39
        assert last.positions[0].point.address == ""
        await publish([Outgoing("geocoding.addresses.v1", address(drive[39], lines[39]), device)])
        deadline = loop.time() + 30
        while loop.time() < deadline:
            last = await stub.GetLastPositions(pb.GetLastPositionsRequest(device_ids=[device]))
            if last.positions[0].point.address:
                break
            await asyncio.sleep(0.2)
        assert last.positions[0].point.address == lines[39]
        assert trips.trips[-1].end.address in ("", *lines.values())
