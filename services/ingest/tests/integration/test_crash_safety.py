"""Killing ingest between publishing a position and acknowledging it loses nothing: the device
resends, and downstream sees that position exactly once after deduplication."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime

from services.ingest.tests.integration.conftest import KEY, register, unique_imei
from tests.integration.helpers import open_records, read_all
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import KafkaSettings
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.model import Fix


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ingest(port: int, failpoint: str = "") -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "INGEST_GT06_PORT": str(port),
        "INGEST_JT808_PORT": str(free_port()),
        "INGEST_OSMAND_PORT": str(free_port()),
        "INGEST_OPS_PORT": "0",
        "INGEST_IDENTIFIER_KEY": KEY.decode(),
        "INGEST_FAILPOINT": failpoint,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


async def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("ingest did not start listening")


async def send_and_read(port: int, frames: list[bytes]) -> list[bytes]:
    """Send each frame and collect what comes back until the server answers or hangs up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    splitter, answers = gt06.Gt06FrameSplitter(), []
    try:
        for frame in frames:
            writer.write(frame)
            async with asyncio.timeout(15):
                data = await reader.read(1024)
            if not data:
                break
            answers += [f.raw for f in splitter.feed(data)]
    finally:
        writer.close()
    return answers


async def test_a_crash_after_publish_before_ack_yields_the_position_exactly_once() -> None:
    imei, device_id = unique_imei(), f"dev-crash-{uuid.uuid4().hex[:8]}"
    await register({imei: device_id})
    port = free_port()
    login = gt06_device.encode_login(imei, serial=1)
    fix = Fix(
        fix_time=datetime(2026, 11, 29, 9, 15, 30, tzinfo=UTC),
        latitude=41.0431,
        longitude=29.0091,
        speed_kmh=48.0,
        course_deg=270.0,
        valid=True,
        satellites=11,
    )
    position = gt06_device.encode_location(fix, serial=42)

    crashing = start_ingest(port, failpoint="exit-before-ack")
    try:
        await wait_listening(port, crashing)
        answers = await send_and_read(port, [login, position])
        assert len(answers) == 1, "only the login may be acknowledged before the crash"
        assert await asyncio.to_thread(crashing.wait, 30) == 70
    finally:
        if crashing.poll() is None:
            crashing.kill()

    restarted = start_ingest(port)
    try:
        await wait_listening(port, restarted)
        answers = await send_and_read(port, [login, position])  # the device resends
        assert len(answers) == 2, "after the restart the resent position is acknowledged"
        [sent] = gt06.Gt06FrameSplitter().feed(position)
        assert answers[1] == gt06.encode_ack(gt06.decode(sent))
    finally:
        restarted.terminate()
        await asyncio.to_thread(restarted.wait, 30)

    records = [
        r
        for r in await read_all(KafkaSettings(), "tracking.positions.v1")
        if r.key == device_id.encode()
    ]
    assert len(records) == 2, "published before the crash, and again when resent"
    assert len({dict(r.headers)["ce_id"] for r in records}) == 1, "both carry the same event id"
    identities = Counter(
        (p.device_id, p.fix.fix_time.ToDatetime(tzinfo=UTC), p.origin.message_serial)
        for p in await open_records(records, PositionReported)
    )
    assert identities == {(device_id, fix.fix_time, 42): 2}
    # deduplicated by (device, fix time, serial) — as history's primary key does — it is one
    assert len(identities) == 1
