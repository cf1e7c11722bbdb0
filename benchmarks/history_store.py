"""History: rows per second through the service's write path (position events decoded, checked
for plausibility and written concurrently with the day index and newest-fix rows, as the
consumer hands them over in batches) against the driver's own ``execute_concurrent_with_args``
ceiling on the identical position rows; and read latency over gRPC of one day of a device
reporting every 10 s, and of a trips report over 7 days."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from cassandra.concurrent import execute_concurrent_with_args
from google.protobuf.timestamp_pb2 import Timestamp

from benchmarks.common import Result
from history.adapters.grpc_api import serve_grpc
from history.adapters.store import _COLUMNS, PositionStore
from history.handlers import PositionWriter, StoreHealth
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events.envelope import Envelope
from trackstream_kafka import ConsumedEvent

TARGET = 0.7
BATCH = 500
CONCURRENCY = 128


def _ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def events(device: str, start: datetime, count: int, step_s: float = 10.0) -> list[ConsumedEvent]:
    envelope = Envelope(
        type="trackstream.tracking.v1.PositionReported", source="/b", subject=device
    )
    out = []
    for i in range(count):
        message = PositionReported(
            device_id=device,
            fix=Fix(
                fix_time=_ts(start + timedelta(seconds=step_s * i)),
                latitude=41.0 + (i % 3000) / 100_000,
                longitude=29.0 + (i % 5000) / 100_000,
                speed_kmh=float(20 + i % 60) if (i // 60) % 3 else 0.0,
                valid=True,
            ),
            received_time=_ts(start),
            origin=Origin(message_serial=i % 65536),
        )
        out.append(ConsumedEvent(envelope, message, device, "tracking.positions.v1", 0, i))
    return out


async def measure(rows: int) -> dict[str, float]:
    cassandra = CassandraStore(connect(CassandraSettings(), keyspace=CassandraSettings().keyspace))
    store = PositionStore(cassandra, concurrency=CONCURRENCY)
    writer = PositionWriter(store, StoreHealth())
    now = datetime.now(UTC).replace(microsecond=0)
    run = uuid.uuid4().hex[:8]

    # the service's path, in consumer-sized batches; 10 devices, a fix every 10 s
    batch_events = [
        e
        for d in range(10)
        for e in events(f"bench-w-{run}-{d}", now - timedelta(days=3), rows // 10)
    ]
    started = time.perf_counter()
    for i in range(0, len(batch_events), BATCH):
        await writer.handle(batch_events[i : i + BATCH])
    service_rate = len(batch_events) / (time.perf_counter() - started)

    # the ceiling: the same position rows, prepared insert, execute_concurrent_with_args
    points = [PositionStore._values(p) for p in [_point(e) for e in batch_events]]
    insert = cassandra.prepared(
        f"INSERT INTO positions_by_device_day (device_id, day, {_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    params = [(f"bench-c-{run}-{i % 10}", v[0].date(), *v) for i, v in enumerate(points)]
    started = time.perf_counter()
    await asyncio.to_thread(
        execute_concurrent_with_args, cassandra.session, insert, params, concurrency=CONCURRENCY
    )
    ceiling = len(params) / (time.perf_counter() - started)

    # reads over gRPC: one day at a 10 s interval (8,640 points), trips over 7 days
    reader = f"bench-r-{run}"
    day0 = (now - timedelta(days=8)).replace(hour=0, minute=0, second=0)
    week = events(reader, day0, 7 * 8640)
    for i in range(0, len(week), 2000):
        await writer.handle(week[i : i + 2000])
    server, port = await serve_grpc(store, "127.0.0.1", 0)
    day_ms, week_ms = [], []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.HistoryServiceStub(channel)
        for _ in range(20):
            t0 = time.perf_counter()
            response = await stub.GetTrack(
                pb.GetTrackRequest(
                    device_id=reader,
                    start_time=_ts(day0),
                    end_time=_ts(day0 + timedelta(days=1)),
                    page_size=10_000,
                )
            )
            day_ms.append((time.perf_counter() - t0) * 1000)
            assert len(response.points) == 8640
        for _ in range(5):
            t0 = time.perf_counter()
            trips = await stub.GetTrips(
                pb.GetReportRequest(
                    device_id=reader, start_time=_ts(day0), end_time=_ts(day0 + timedelta(days=7))
                )
            )
            week_ms.append((time.perf_counter() - t0) * 1000)
            assert trips.trips
    await server.stop(1)
    cassandra.close()
    return {
        "service": service_rate,
        "ceiling": ceiling,
        "day_p50_ms": statistics.median(day_ms),
        "day_p99_ms": max(day_ms),
        "week_trips_p50_ms": statistics.median(week_ms),
        "week_trips_p99_ms": max(week_ms),
    }


def _point(e: ConsumedEvent):  # type: ignore[no-untyped-def]
    from history.handlers import point_of

    return point_of(e.message)  # type: ignore[arg-type]


def run(rows: int = 20_000) -> Result:
    m = asyncio.run(measure(rows))
    return Result(
        name="history writes",
        value=m["service"],
        baseline=m["ceiling"],
        unit="rows/s",
        ratio=m["service"] / m["ceiling"],
        target=TARGET,
        details={k: round(v, 1) for k, v in m.items() if k.endswith("_ms")},
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print("  read latency (ms):", result.details)
