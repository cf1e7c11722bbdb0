"""Geocoding: (1) offline lookups per second one by one against micro-batched (the batch size
the consumer hands over), on the same points, interleaved, best of 7, with reverse_geocoder's
own bulk ``RGeocoder.query`` as the ceiling; (2) how often the simulator fleet's positions are
answered without an index query (movement threshold and H3-cell cache); (3) the lag of the
address stream behind the position stream at 3,000 positions/s through the real Kafka, with the
service in its own process (p50/p99)."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import reverse_geocoder
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from benchmarks.common import Result, best_rates
from benchmarks.ingest_process import free_port
from geocoding.adapters.geonames import load_index
from geocoding.domain.movement import MovementFilter
from geocoding.domain.offline import OfflineIndex
from geocoding.handlers import PositionGeocoder
from geocoding.resolver import Resolver
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope, uuid7
from trackstream_kafka import ConsumedEvent, EventPublisher, KafkaSettings, Outgoing
from trackstream_simulator.route import generate_route

#: micro-batched lookups against reverse_geocoder's own bulk query (performance.md, ratio 6)
TARGET = 0.8
BATCH = 500
POSITIONS = "tracking.positions.v1"
ADDRESSES = "geocoding.addresses.v1"


def _ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def random_points(count: int) -> tuple[list[float], list[float]]:
    """Uniform in a Turkey-sized box (as performance.md's measurement)."""
    rng = random.Random(6)
    return (
        [rng.uniform(36.0, 42.0) for _ in range(count)],
        [rng.uniform(26.0, 45.0) for _ in range(count)],
    )


def lookups(index: OfflineIndex, points: int = 20_000) -> dict[str, float]:
    lats, lons = random_points(points)
    geocoder = reverse_geocoder.RGeocoder(mode=1, verbose=False)
    pairs = list(zip(lats, lons, strict=True))

    def one_by_one() -> int:
        for lat, lon in pairs:
            index.towns([lat], [lon])
        return points

    def batched() -> int:
        for i in range(0, points, BATCH):
            index.towns(lats[i : i + BATCH], lons[i : i + BATCH])
        return points

    def rg_bulk() -> int:
        geocoder.query(pairs)
        return points

    single, micro, bulk = best_rates(one_by_one, batched, rg_bulk, repeats=7)
    return {"one_by_one": single, "batched": micro, "rg_bulk": bulk}


def fleet_positions(
    devices: int, minutes: int, *, interval_s: float = 10.0
) -> list[PositionReported]:
    """The simulator's routes (same seeds as its fleet), every device every ``interval_s``, in
    time order as Kafka would hand them over."""
    routes = [generate_route(f"1:gt06:{i}") for i in range(devices)]
    start = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    out = []
    for k in range(int(minutes * 60 / interval_s)):
        when = _ts(start + timedelta(seconds=k * interval_s))
        for i, route in enumerate(routes):
            s = route.at(k * interval_s)
            out.append(
                PositionReported(
                    device_id=f"sim-{i}",
                    fix=Fix(
                        fix_time=when,
                        latitude=s.latitude,
                        longitude=s.longitude,
                        speed_kmh=s.speed_kmh,
                        valid=True,
                    ),
                    origin=Origin(message_serial=k % 65536),
                )
            )
    return out


class NullPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def publish_many(self, items: Sequence[Outgoing]) -> list[Envelope]:
        self.count += len(items)
        return []


async def fleet_hit_rate(
    index: OfflineIndex, devices: int = 500, minutes: int = 60
) -> dict[str, float]:
    positions = fleet_positions(devices, minutes)
    events = [
        ConsumedEvent(
            envelope=Envelope(
                type="trackstream.tracking.v1.PositionReported", source="/b", subject=p.device_id
            ),
            message=p,
            key=p.device_id,
            topic=POSITIONS,
            partition=0,
            offset=i,
        )
        for i, p in enumerate(positions)
    ]
    publisher = NullPublisher()
    geocoder = PositionGeocoder(
        resolver=Resolver(index, h3_resolution=9, cache_size=200_000),
        movement=MovementFilter(50.0, max_devices=1_000_000),
        publisher=publisher,
    )
    started = time.perf_counter()
    for i in range(0, len(events), BATCH):
        await geocoder.handle(events[i : i + BATCH])
    elapsed = time.perf_counter() - started
    c = geocoder.counts
    total = sum(c.values())
    assert publisher.count == total - c["skipped"]
    return {
        "positions": total,
        "reused_share": c["reused"] / total,
        "cache_hit_rate": c["cache_hit"] / (c["cache_hit"] + c["looked_up"]),
        "answered_without_lookup": (c["reused"] + c["cache_hit"]) / total,
        "handler_positions_per_s": total / elapsed,
    }


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    metadata = await consumer._client.fetch_all_metadata()
    tps = [TopicPartition(topic, p) for p in sorted(metadata.partitions_for_topic(topic) or ())]
    return dict(await consumer.end_offsets(tps))


async def _commit_at_end(group: str) -> None:
    settings = KafkaSettings()
    probe = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await probe.start()
    try:
        offsets = await _end_offsets(probe, POSITIONS)
    finally:
        await probe.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def stream_lag(
    rate: int = 3000, seconds: int = 20, devices: int = 30_000
) -> dict[str, float]:
    """Positions at ``rate``/s for ``seconds`` into Kafka; the service (own process, its own
    group starting at the end of the topic) publishes addresses; lag = the address record's Kafka
    timestamp (stamped by the service's producer) minus the time its position was handed to
    our producer (one host clock), so our own consumer's delays do not count."""
    group = f"geocoding-bench-{uuid.uuid4().hex[:8]}"
    await _commit_at_end(group)
    ops = free_port()
    env = {
        **os.environ,
        "GEOCODING_CONSUMER_GROUP": group,
        "GEOCODING_OPS_PORT": str(ops),
        "GEOCODING_GRPC_PORT": str(free_port()),
        "GEOCODING_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "geocoding"], env=env)
    run = uuid.uuid4().hex[:6]
    routes = [generate_route(f"1:gt06:{i % 2000}", radius_m=20_000.0) for i in range(devices)]
    sent: dict[str, float] = {}
    lags: list[float] = []
    publisher = EventPublisher.create(KafkaSettings(), source="/benchmarks")
    consumer = AIOKafkaConsumer(bootstrap_servers=KafkaSettings().bootstrap_servers)
    try:
        deadline = time.monotonic() + 120
        while not _ready(ops):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the geocoding process did not become ready")
            await asyncio.sleep(0.2)
        await publisher.start()
        await consumer.start()
        offsets = await _end_offsets(consumer, ADDRESSES)
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)

        def position(n: int) -> Outgoing:
            d = n % devices
            k = n // devices
            s = routes[d].at(k * 10.0 + d % 10)
            event = PositionReported(
                device_id=f"bench-geo-{run}-{d}",
                fix=Fix(
                    fix_time=_ts(datetime.now(UTC)),
                    latitude=s.latitude,
                    longitude=s.longitude,
                    speed_kmh=s.speed_kmh,
                    valid=True,
                ),
                origin=Origin(message_serial=k),
            )
            return Outgoing(POSITIONS, event, event.device_id, event_id=uuid7())

        async def receive(expected: int, within: float) -> None:
            end = time.monotonic() + within
            while len(lags) < expected and time.monotonic() < end:
                batch = await consumer.getmany(timeout_ms=100)
                for records in batch.values():
                    for r in records:
                        address = AddressResolved.FromString(r.value)
                        at = sent.pop(address.position_event_id, None)
                        if at is not None:  # the address's Kafka timestamp (set by its producer)
                            lags.append(r.timestamp / 1000 - at)

        # warm-up: the service joins its group and answers a first position
        warm = position(0)
        sent[str(warm.event_id)] = time.time()
        await publisher.publish_many([warm])
        await receive(1, 60)
        if not lags:
            raise RuntimeError("no address for the warm-up position")
        lags.clear()

        total = rate * seconds
        prepared = [position(m) for m in range(1, total + 1)]  # not while measuring
        cpu_before = _cpu_seconds(process.pid)
        tick = 0.01
        per_tick = int(rate * tick)
        receiving = asyncio.create_task(receive(total, seconds + 60))
        pending: set[asyncio.Task[object]] = set()
        started = time.perf_counter()
        n = 1
        while n <= total:
            due = started + (n - 1) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            items = prepared[n - 1 : min(n - 1 + per_tick, total)]
            now = time.time()
            for item in items:
                sent[str(item.event_id)] = now
            task = asyncio.create_task(publisher.publish_many(items))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += len(items)
        achieved = total / (time.perf_counter() - started)
        await asyncio.gather(*pending)
        await receiving
        cpu = _cpu_seconds(process.pid) - cpu_before
        lags.sort()
        return {
            "offered_per_s": rate,
            "achieved_per_s": round(achieved),
            "positions": total,
            "addresses_received": len(lags),
            "lag_p50_ms": round(1000 * lags[len(lags) // 2], 1),
            "lag_p99_ms": round(1000 * lags[int(len(lags) * 0.99) - 1], 1),
            "lag_max_ms": round(1000 * lags[-1], 1),
            "lag_mean_ms": round(1000 * statistics.fmean(lags), 1),
            # the service's own CPU (consume, decode, geocode, publish): machine-independent
            "service_cpu_us_per_position": round(1e6 * cpu / total, 1),
        }
    finally:
        await publisher.stop()
        await consumer.stop()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def run() -> Result:
    index, load_s = load_index()
    rates = lookups(index)
    fleet = asyncio.run(fleet_hit_rate(index))
    lag = asyncio.run(stream_lag())
    return Result(
        name="geocode batched vs one-by-one",
        value=rates["batched"],
        baseline=rates["one_by_one"],
        unit="lookups/s",
        ratio=rates["batched"] / rates["one_by_one"],
        details={
            "index_load_s": round(load_s, 2),
            "batch": BATCH,
            "rg_bulk_per_s": round(rates["rg_bulk"]),
            "batched_vs_rg_bulk": round(rates["batched"] / rates["rg_bulk"], 3),
            "batched_vs_rg_bulk_target": TARGET,
            "one_by_one_vs_rg_bulk": round(rates["one_by_one"] / rates["rg_bulk"], 3),
            "fleet": {k: round(v, 3) for k, v in fleet.items()},
            "stream": lag,
        },
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:  # python -m benchmarks.geocoding RATE: only the stream lag
        print(asyncio.run(stream_lag(rate=int(sys.argv[1]))))
        sys.exit(0)
    result = run()
    print(result.line())
    for key, value in result.details.items():
        print(f"  {key}: {value}")
