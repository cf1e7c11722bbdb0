"""Reports over gRPC from positions that went through the real Kafka and Cassandra: a known
drive gives the right trips, stop, summary, overspeed and exports."""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from services.history.tests.integration.conftest import StartHistory, ts, wait_for_points
from services.history.tests.integration.test_history_store import publish
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported

METRES_PER_DEGREE = 2 * math.pi * 6_371_008.8 / 360  # along a meridian


def drive(device: str, start: datetime) -> list[PositionReported]:
    """3 km north at 36 km/h (a fix every 10 s = 100 m), parked 10 min, 2 km back south."""
    points: list[tuple[float, float]] = []  # (seconds from start, metres north)
    for i in range(31):
        points.append((10.0 * i, 100.0 * i))
    for i in range(1, 11):
        points.append((300.0 + 60 * i, 3000.0))
    for i in range(1, 21):
        points.append((900.0 + 10 * i, 3000.0 - 100.0 * i))
    events = []
    for serial, (seconds, north) in enumerate(points):
        moving = 0 < serial < 30 or serial > 40  # stopped at the start and on arrival
        events.append(
            PositionReported(
                device_id=device,
                fix=Fix(
                    fix_time=ts(start + timedelta(seconds=seconds)),
                    latitude=41.0 + north / METRES_PER_DEGREE,
                    longitude=29.0,
                    speed_kmh=36.0 if moving else 0.0,
                    valid=True,
                ),
                origin=Origin(message_serial=serial),
            )
        )
    return events


async def test_a_known_drive_gives_the_right_trips_stop_summary_and_exports(
    start_history: StartHistory,
) -> None:
    app = await start_history()
    device = f"dev-drive-{uuid.uuid4().hex[:8]}"
    start = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    events = drive(device, start)
    await publish(events)
    end = start + timedelta(hours=1)
    assert len(await wait_for_points(app, device, start, end, len(events), within=240)) == len(
        events
    )

    report = pb.GetReportRequest(device_id=device, start_time=ts(start), end_time=ts(end))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = pb_grpc.HistoryServiceStub(channel)
        trips = await stub.GetTrips(report)
        summary = await stub.GetDailySummary(
            pb.GetDailySummaryRequest(device_id=device, day="2026-11-28")
        )
        overspeeds = await stub.GetOverspeeds(pb.GetOverspeedsRequest(range=report, limit_kmh=30))
        exports = {
            fmt: "".join(
                [
                    c.text
                    async for c in stub.ExportTrack(pb.ExportTrackRequest(range=report, format=fmt))
                ]
            )
            for fmt in (pb.EXPORT_FORMAT_GPX, pb.EXPORT_FORMAT_GEOJSON, pb.EXPORT_FORMAT_CSV)
        }
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await stub.GetTrips(
                pb.GetReportRequest(
                    device_id=device, start_time=ts(start), end_time=ts(start + timedelta(days=40))
                )
            )
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    first, second = trips.trips
    assert first.start_time.ToDatetime(tzinfo=UTC) == start
    assert first.end_time.ToDatetime(tzinfo=UTC) == start + timedelta(seconds=300)
    assert first.distance_m == pytest.approx(3000, rel=0.01)
    assert second.distance_m == pytest.approx(2000, rel=0.01)
    assert second.end_time.ToDatetime(tzinfo=UTC) == start + timedelta(seconds=1100)
    [stop] = [s for s in trips.stops if s.duration_s >= 300]
    assert stop.duration_s == pytest.approx(600, abs=1)
    assert summary.distance_m == pytest.approx(5000, rel=0.01) and summary.trip_count == 2
    assert summary.max_speed_kmh == pytest.approx(36)
    assert len(overspeeds.overspeeds) == 2

    gpx = ET.fromstring(exports[pb.EXPORT_FORMAT_GPX])
    assert len([e for e in gpx.iter() if e.tag.endswith("trkpt")]) == len(events)
    geojson = json.loads(exports[pb.EXPORT_FORMAT_GEOJSON])
    line = next(f for f in geojson["features"] if f["geometry"]["type"] == "LineString")
    assert line["geometry"]["coordinates"][0] == pytest.approx([29.0, 41.0])  # lon, lat
    rows = list(csv.DictReader(io.StringIO(exports[pb.EXPORT_FORMAT_CSV])))
    assert len(rows) == len(events)
