"""Alarm engine: positions per second through the rules with 10,000 geofences, on the real
Kafka, against a raw consumer loop doing no work on the same records; the same engine hosted
by faust-streaming (an agent with a changelogged table) on the same records; and the latency
from a position event to its alarm event.

Scenario (deterministic from a seed): 100 accounts, each with 100 geofences (circles of
100 m to 1.5 km and polygons) over the same 40 x 40 km area and five rules (overspeed,
ignition, idle, offline, low battery); 1,000 devices (10 per account) random-walking through
it, 60 positions each, speeds 0-130 km/h, ignition switching now and then.

* ``raw``: ``AIOKafkaConsumer.getmany`` counting the records (the ceiling of reading them).
* ``engine``: ``EventConsumer`` batch mode + ``AlarmProcessor`` (decode, STRtree lookup, rules,
  debounce, alarms and changed states published with acks=all, offsets committed): the service.
* ``faust``: a faust-streaming worker (its own process) running the same engine per event,
  state in a faust ``Table`` (changelog topic), alarms sent to a topic.

Each is timed from its first record to the last, with a fresh consumer group over the same
pre-filled topic; raw and engine alternate (best of 3 rounds; every round's rates and the load
average are in the details). Like the service process once its tables are loaded, the
benchmark settles the garbage collector (``settle_garbage_collector``) before the rounds.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.timestamp_pb2 import Timestamp

from alarm.adapters.changelog import StateRestorer
from alarm.handlers import AlarmProcessor, Definitions
from benchmarks.common import Result
from trackstream.alarm.v1 import alarm_pb2, geofence_pb2
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.catalog import CleanupPolicy, ErasureClass, PersonalData, Topic
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.admin import ensure_topics
from trackstream_servicekit import settle_garbage_collector

TARGET = 0.5
ACCOUNTS = 100
FENCES_PER_ACCOUNT = 100
DEVICES_PER_ACCOUNT = 10
POSITIONS_PER_DEVICE = 60
LAT0, LON0 = 41.0, 29.0
AREA_DEG = 0.36  # about 40 km
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Scenario:
    fences: list[geofence_pb2.Geofence]
    rules: list[geofence_pb2.Rule]
    owners: dict[str, str]
    positions: list[PositionReported]

    def definitions(self) -> Definitions:
        definitions = Definitions()
        for fence in self.fences:
            definitions.fence_changed(fence.geofence_id, fence)
        for rule in self.rules:
            definitions.rule_changed(rule.rule_id, rule)
        assert len(definitions.index) == len(self.fences)
        return definitions


def _ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def _latlng(lat: float, lon: float) -> geofence_pb2.LatLng:
    return geofence_pb2.LatLng(latitude=lat, longitude=lon)


def scenario(seed: int = 7, start: datetime | None = None) -> Scenario:
    rng = random.Random(seed)
    start = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    fences, rules, owners = [], [], {}
    for a in range(ACCOUNTS):
        account = f"bench-acc-{a}"
        for f in range(FENCES_PER_ACCOUNT):
            lat = LAT0 + rng.uniform(0, AREA_DEG)
            lon = LON0 + rng.uniform(0, AREA_DEG)
            fence = geofence_pb2.Geofence(
                geofence_id=f"bench-fence-{a}-{f}",
                account_id=account,
                alarm_on_enter=True,
                alarm_on_exit=True,
                dwell_alarm_s=600,
            )
            if f % 2:
                fence.circle.CopyFrom(
                    geofence_pb2.Circle(center=_latlng(lat, lon), radius_m=rng.uniform(100, 1500))
                )
            else:
                r = rng.uniform(0.002, 0.012)
                sides = rng.choice((4, 5, 6, 8))
                fence.polygon.vertices.extend(
                    _latlng(
                        lat + r * math.sin(2 * math.pi * k / sides),
                        lon + r * math.cos(2 * math.pi * k / sides),
                    )
                    for k in range(sides)
                )
            fences.append(fence)
        rules += [
            geofence_pb2.Rule(
                rule_id=f"bench-speed-{a}",
                account_id=account,
                kind=geofence_pb2.RULE_KIND_OVERSPEED,
                speed_limit_kmh=90,
                min_duration_s=20,
                enabled=True,
            ),
            geofence_pb2.Rule(
                rule_id=f"bench-ign-{a}",
                account_id=account,
                kind=geofence_pb2.RULE_KIND_IGNITION,
                enabled=True,
            ),
            geofence_pb2.Rule(
                rule_id=f"bench-idle-{a}",
                account_id=account,
                kind=geofence_pb2.RULE_KIND_IDLE,
                idle_after_s=300,
                enabled=True,
            ),
            geofence_pb2.Rule(
                rule_id=f"bench-off-{a}",
                account_id=account,
                kind=geofence_pb2.RULE_KIND_OFFLINE,
                offline_after_s=900,
                enabled=True,
            ),
            geofence_pb2.Rule(
                rule_id=f"bench-batt-{a}",
                account_id=account,
                kind=geofence_pb2.RULE_KIND_LOW_BATTERY,
                battery_below_percent=20,
                enabled=True,
            ),
        ]
        for d in range(DEVICES_PER_ACCOUNT):
            owners[f"bench-dev-{a}-{d}"] = account
    walkers = {
        device: [LAT0 + rng.uniform(0, AREA_DEG), LON0 + rng.uniform(0, AREA_DEG), True]
        for device in owners
    }
    positions = []
    for i in range(POSITIONS_PER_DEVICE):
        when = start + timedelta(seconds=10 * i)
        for device, walker in walkers.items():
            if rng.random() < 0.03:
                walker[2] = not walker[2]
            speed = rng.uniform(0, 130) if walker[2] else 0.0
            walker[0] += rng.uniform(-1, 1) * speed / 3600 * 10 / 111
            walker[1] += rng.uniform(-1, 1) * speed / 3600 * 10 / 84
            positions.append(
                PositionReported(
                    device_id=device,
                    fix=Fix(
                        fix_time=_ts(when),
                        latitude=walker[0],
                        longitude=walker[1],
                        speed_kmh=speed,
                        valid=True,
                    ),
                    received_time=_ts(when),
                    origin=Origin(message_serial=i),
                    ignition=bool(walker[2]),
                    battery_percent=max(5, 90 - i),
                )
            )
    return Scenario(fences, rules, owners, positions)


def _topic(name: str, partitions: int, compact: bool = False) -> Topic:
    return Topic(
        name=name,
        owner="benchmarks",
        key="device_id",
        value_types=(),
        partitions=partitions,
        cleanup_policy=CleanupPolicy.COMPACT if compact else CleanupPolicy.DELETE,
        retention_ms=3_600_000,
        personal_data=PersonalData.NONE,
        erasure=ErasureClass.RETENTION,
        description="alarm benchmark",
    )


async def _publish(settings: KafkaSettings, topic: str, positions: list[PositionReported]) -> None:
    publisher = EventPublisher.create(settings, source="/bench")
    await publisher.start()
    try:
        for i in range(0, len(positions), 5000):
            await publisher.publish_many(
                [Outgoing(topic, p, key=p.device_id) for p in positions[i : i + 5000]]
            )
    finally:
        await publisher.stop()


async def raw_rate(settings: KafkaSettings, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.max_poll_records,
    )
    await consumer.start()
    try:
        seen, started = 0, 0.0
        while seen < count:
            batch = await consumer.getmany(
                timeout_ms=settings.poll_timeout_ms, max_records=settings.max_poll_records
            )
            for records in batch.values():
                if not started and records:
                    started = time.perf_counter()
                seen += len(records)
            if batch:
                await consumer.commit()
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def engine_rate(
    settings: KafkaSettings,
    topics: dict[str, str],
    count: int,
    definitions: Definitions,
    owners: dict[str, str],
) -> tuple[float, int]:
    publisher = EventPublisher.create(settings, source="/bench/alarm")
    await publisher.start()
    processor = AlarmProcessor(
        publisher=publisher,
        definitions=definitions,
        account_of=lambda device: owners.get(device, ""),
        positions_topic=topics["positions"],
        alarms_topic=topics["alarms"],
        state_topic=topics["state"],
    )
    done = asyncio.Event()
    seen = 0
    started = 0.0

    async def handle(events: list[Any]) -> None:
        nonlocal seen, started
        if not started:
            started = time.perf_counter()
        await processor.handle(events)
        seen += len(events)
        if seen >= count:
            done.set()

    consumer = EventConsumer(
        settings=settings,
        group_id=f"bench-engine-{uuid.uuid4().hex[:8]}",
        topics=[topics["positions"]],
        batch_handler=handle,
        registry=default_registry(),
        dead_letters=publisher,
        rebalance_listener=StateRestorer(processor, settings),
    )
    await consumer.start()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait(
            {running, asyncio.create_task(done.wait())},
            timeout=600,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if running.done():
            running.result()
        elapsed = time.perf_counter() - started
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 60)
        await publisher.stop()
    return count / elapsed, len(processor.states)


def faust_rate(topics: dict[str, str], count: int, seed: int) -> float:
    """The faust worker in its own process (faust owns its event loop)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = os.environ | {
            "BENCH_POSITIONS": topics["positions"],
            "BENCH_ALARMS": topics["faust_alarms"],
            "BENCH_COUNT": str(count),
            "BENCH_SEED": str(seed),
            "BENCH_OUT": str(out),
            "BENCH_APP": f"alarm-bench-faust-{uuid.uuid4().hex[:8]}",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.alarm_faust", "worker", "-l", "warn"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 900
            while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if not out.exists():
            tail = (proc.stderr.read() if proc.stderr else b"").decode()[-2000:]
            raise RuntimeError(f"faust worker gave no result:\n{tail}")
        return float(json.loads(out.read_text())["rate"])


async def latency(
    settings: KafkaSettings,
    topics: dict[str, str],
    definitions: Definitions,
    owners: dict[str, str],
    *,
    count: int = 1000,
    rate_per_s: float = 100.0,
) -> list[float]:
    """Position published -> its alarm read back, in ms: every position switches the ignition
    of its device, so each raises exactly one alarm."""
    publisher = EventPublisher.create(settings, source="/bench/alarm")
    await publisher.start()
    processor = AlarmProcessor(
        publisher=publisher,
        definitions=definitions,
        account_of=lambda device: owners.get(device, ""),
        positions_topic=topics["latency_positions"],
        alarms_topic=topics["latency_alarms"],
        state_topic=topics["state"],
    )
    consumer = EventConsumer(
        settings=settings,
        group_id=f"bench-latency-{uuid.uuid4().hex[:8]}",
        topics=[topics["latency_positions"]],
        batch_handler=processor.handle,
        registry=default_registry(),
        dead_letters=publisher,
        rebalance_listener=StateRestorer(processor, settings),
        auto_offset_reset="latest",
    )
    tap = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None)
    sender = EventPublisher.create(settings, source="/bench/ingest")
    await asyncio.gather(consumer.start(), tap.start(), sender.start())
    tps = [TopicPartition(topics["latency_alarms"], p) for p in range(3)]
    tap.assign(tps)
    await tap.seek_to_end(*tps)
    for tp in tps:
        await tap.position(tp)
    running = asyncio.create_task(consumer.run())
    await asyncio.wait_for(processor.assigned.wait(), 60)
    await consumer.positions()
    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    devices = sorted(owners)[:200]
    start = datetime.now(UTC) - timedelta(hours=1)

    async def read() -> None:
        while len(latencies) < count:
            batch = await tap.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    alarm = alarm_pb2.AlarmRaised.FromString(record.value)
                    key = (alarm.device_id, alarm.alarm_time.seconds)
                    if key in sent:
                        latencies.append((now - sent.pop(key)) * 1000)

    reader = asyncio.create_task(read())
    try:
        # one position per device to set the ignition, then every next one switches it
        for i in range(count + len(devices)):
            device = devices[i % len(devices)]
            when = start + timedelta(seconds=10 * (i // len(devices)))
            position = PositionReported(
                device_id=device,
                fix=Fix(fix_time=_ts(when), latitude=LAT0 - 1, longitude=LON0 - 1, valid=True),
                ignition=bool((i // len(devices)) % 2),
            )
            if i >= len(devices):
                sent[(device, int(when.timestamp()))] = time.perf_counter()
            await sender.publish_many([Outgoing(topics["latency_positions"], position, key=device)])
            await asyncio.sleep(1 / rate_per_s)
        await asyncio.wait_for(reader, 60)
    finally:
        reader.cancel()
        consumer.stop()
        await asyncio.wait_for(running, 60)
        await asyncio.gather(publisher.stop(), tap.stop(), sender.stop())
    return latencies


async def measure(rounds: int = 3, seed: int = 7) -> dict[str, Any]:
    settings = KafkaSettings()
    run_id = uuid.uuid4().hex[:8]
    topics = {
        "positions": f"bench.alarm-positions-{run_id}.v1",
        "alarms": f"bench.alarm-alarms-{run_id}.v1",
        "state": f"bench.alarm-state-{run_id}.v1",
        "faust_alarms": f"bench.alarm-faust-alarms-{run_id}.v1",
        "latency_positions": f"bench.alarm-latency-positions-{run_id}.v1",
        "latency_alarms": f"bench.alarm-latency-alarms-{run_id}.v1",
    }
    await ensure_topics(
        settings,
        (
            _topic(topics["positions"], 6),
            _topic(topics["alarms"], 3),
            _topic(topics["state"], 6, compact=True),
            _topic(topics["faust_alarms"], 3),
            _topic(topics["latency_positions"], 6),
            _topic(topics["latency_alarms"], 3),
        ),
    )
    data = scenario(seed)
    await _publish(settings, topics["positions"], data.positions)
    count = len(data.positions)
    definitions = data.definitions()
    round_definitions = [data.definitions() for _ in range(rounds)]
    # what the service process does once its tables are loaded (alarm.__main__); before both
    # loops, so the raw one runs under the same collector settings
    settle_garbage_collector()
    load_before = os.getloadavg()[0]
    raws: list[float] = []
    engines: list[float] = []
    for definitions_of_round in round_definitions:
        raws.append(await raw_rate(settings, topics["positions"], count))
        # every round starts from empty states: a fresh state topic
        round_topics = topics | {"state": f"bench.alarm-state-{uuid.uuid4().hex[:8]}.v1"}
        await ensure_topics(settings, (_topic(round_topics["state"], 6, compact=True),))
        rate, _ = await engine_rate(
            settings, round_topics, count, definitions_of_round, data.owners
        )
        engines.append(rate)
        print(
            f"  raw {raws[-1]:,.0f} pos/s, engine {rate:,.0f} pos/s (round ratio "
            f"{rate / raws[-1]:.3f}, load {os.getloadavg()[0]:.1f})",
            file=sys.stderr,
            flush=True,
        )
    raw, engine = max(raws), max(engines)
    load_after = os.getloadavg()[0]
    faust = faust_rate(topics, count, seed)
    print(f"  faust {faust:,.0f} pos/s", file=sys.stderr, flush=True)
    lat = await latency(settings, topics, definitions, data.owners)
    q = statistics.quantiles(lat, n=100)
    return {
        "raw": raw,
        "engine": engine,
        "faust": faust,
        "positions": count,
        "fences": len(data.fences),
        "latency_p50_ms": statistics.median(lat),
        "latency_p99_ms": q[98],
        "latency_max_ms": max(lat),
        "latency_samples": len(lat),
        "raw_rounds": [round(r) for r in raws],
        "engine_rounds": [round(r) for r in engines],
        "load_average": [round(load_before, 1), round(load_after, 1)],
    }


def run() -> Result:
    m = asyncio.run(measure())
    return Result(
        name="alarm engine",
        value=m["engine"],
        baseline=m["raw"],
        unit="pos/s",
        ratio=m["engine"] / m["raw"],
        target=TARGET,
        details={
            "faust_pos_per_s": round(m["faust"]),
            "faust_ratio": round(m["faust"] / m["raw"], 3),
            "engine_vs_faust": round(m["engine"] / m["faust"], 2),
            "positions": m["positions"],
            "fences": m["fences"],
            "latency_p50_ms": round(m["latency_p50_ms"], 1),
            "latency_p99_ms": round(m["latency_p99_ms"], 1),
            "latency_max_ms": round(m["latency_max_ms"], 1),
            "latency_samples": m["latency_samples"],
            "raw_rounds": m["raw_rounds"],
            "engine_rounds": m["engine_rounds"],
            "load_average_1min": m["load_average"],
        },
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print("  ", result.details)
