"""Cassandra stopped for 60 s while positions keep arriving: the writer pauses (nothing is
committed that was not written), reports it, resumes on its own, and every published position is
stored exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.history.tests.integration.conftest import (
    DAY,
    StartHistory,
    position,
    track,
    wait_for_points,
)
from trackstream_kafka import EventPublisher, KafkaSettings

ROOT = Path(__file__).resolve().parents[4]
STACK = ROOT / "deploy" / "local" / "stack.py"
OUTAGE_S = 60


def stack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(STACK), *args], capture_output=True, text=True)


async def test_a_minute_without_cassandra_loses_and_duplicates_nothing(
    start_history: StartHistory,
) -> None:
    app = await start_history()
    device = f"dev-outage-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
    await publisher.start()
    serial = 0

    async def send(count: int) -> None:
        nonlocal serial
        for _ in range(count):
            event = position(device, start + timedelta(seconds=serial), serial)
            await publisher.publish("tracking.positions.v1", event, key=device)
            serial += 1

    try:
        await send(5)
        assert len(await wait_for_points(app, device, start, start + DAY, 5, within=240)) == 5
        stopped = await asyncio.to_thread(stack, "down", "cassandra")
        assert stopped.returncode == 0, stopped.stderr
        saw_unhealthy = False
        loop = asyncio.get_running_loop()
        outage_end = loop.time() + OUTAGE_S
        while loop.time() < outage_end:  # positions keep arriving
            await send(5)
            saw_unhealthy |= not app.health.healthy
            await asyncio.sleep(2)
        assert saw_unhealthy, "the writer must notice and report the outage"
    finally:
        started = await asyncio.to_thread(stack, "up", "cassandra")
        await publisher.stop()
    assert started.returncode == 0, started.stderr
    points = await wait_for_points(app, device, start, start + DAY, serial, within=180)
    assert [p.message_serial for p in points] == list(range(serial)), "each position exactly once"
    assert app.health.healthy
    assert len(await track(app, device, start, start + DAY)) == serial
