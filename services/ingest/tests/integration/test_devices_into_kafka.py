"""Simulated GT06 and JT/T 808 devices over real TCP; events in the real Kafka."""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.tests.integration.conftest import (
    StartIngest,
    register,
    unique_imei,
    unique_phone,
)
from tests.integration.helpers import open_records, read_all
from trackstream.tracking.v1.device_pb2 import DeviceConnected
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import KafkaSettings
from trackstream_protocols import gt06, jt808
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.jt808 import device as jt808_device
from trackstream_protocols.model import Fix

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def fix_at(i: int, lane: int) -> Fix:
    return Fix(
        fix_time=START + timedelta(seconds=10 * i),
        latitude=41.0 + lane / 100 + i / 10_000,
        longitude=28.9 + i / 10_000,
        speed_kmh=float(30 + i % 40),
        course_deg=float((i * 7) % 360),
        valid=True,
        satellites=9,
    )


async def gt06_device_run(port: int, imei: str, lane: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    splitter = gt06.Gt06FrameSplitter()

    async def exchange(frame: bytes) -> None:
        writer.write(frame)
        [sent] = gt06.Gt06FrameSplitter().feed(frame)
        expected = gt06.encode_ack(gt06.decode(sent))
        async with asyncio.timeout(20):
            acks: list[gt06.Gt06Frame] = []
            while not acks:
                data = await reader.read(1024)
                assert data, "ingest closed the connection"
                acks = splitter.feed(data)
        assert acks[0].raw == expected, "the ACK must be the protocol's exact answer"

    await exchange(gt06_device.encode_login(imei, serial=1))
    for i in range(count):
        await exchange(gt06_device.encode_location(fix_at(i, lane), serial=i + 2))
    writer.close()


async def jt808_device_run(port: int, phone: str, lane: int, count: int) -> None:
    to = jt808.Jt808Address.from_phone(phone)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    splitter = jt808.Jt808FrameSplitter()

    async def exchange(frame: bytes) -> bytes:
        writer.write(frame)
        async with asyncio.timeout(20):
            got: list[jt808.Jt808Frame] = []
            while not got:
                data = await reader.read(1024)
                assert data, "ingest closed the connection"
                got = splitter.feed(data)
        header, body = jt808.parse_header(got[0].content)
        return struct.pack(">H", header.msg_id) + body

    reply = await exchange(
        jt808_device.encode_register(
            to, 1, manufacturer_id="JIMI0", terminal_model="JC371", terminal_id="T000001"
        )
    )
    assert reply[:2] == b"\x81\x00" and reply[2:5] == struct.pack(">HB", 1, 0)
    auth_code = reply[5:].decode()
    reply = await exchange(jt808_device.encode_authenticate(to, 2, auth_code=auth_code))
    assert reply == b"\x80\x01" + struct.pack(">HHB", 2, 0x0102, 0)
    for i in range(count):
        serial = i + 3
        reply = await exchange(jt808_device.encode_location(to, serial, fix_at(i, lane)))
        assert reply == b"\x80\x01" + struct.pack(">HHB", serial, 0x0200, 0)
    writer.close()


async def test_fleet_events_land_in_kafka_keyed_ordered_and_complete(
    start_ingest: StartIngest,
) -> None:
    run = uuid.uuid4().hex[:8]
    gt06_ids = {unique_imei(): f"dev-g{run}-{n}" for n in range(5)}
    jt808_ids = {unique_phone(): f"dev-j{run}-{n}" for n in range(5)}
    await register(gt06_ids | jt808_ids)
    app = await start_ingest()
    count = 20
    await asyncio.gather(
        *(gt06_device_run(app.ports["gt06"], imei, n, count) for n, imei in enumerate(gt06_ids)),
        *(jt808_device_run(app.ports["jt808"], ph, n, count) for n, ph in enumerate(jt808_ids)),
    )

    settings = KafkaSettings()
    ours = set(gt06_ids.values()) | set(jt808_ids.values())
    by_device: dict[str, list[PositionReported]] = defaultdict(list)
    mine = [r for r in await read_all(settings, "tracking.positions.v1") if r.key.decode() in ours]
    for record, position in zip(mine, await open_records(mine, PositionReported), strict=True):
        headers = dict(record.headers)
        assert headers["ce_type"] == b"trackstream.tracking.v1.PositionReported"
        assert headers["ce_subject"] == record.key
        # the fix is sealed under the device's data key, not in the value
        assert "ts-sealed" in headers
        assert not PositionReported.FromString(record.value).HasField("fix")
        by_device[record.key.decode()].append(position)
    assert set(by_device) == ours
    for device_id, positions in by_device.items():
        lane = int(device_id.rsplit("-", 1)[1])
        assert len(positions) == count, device_id
        assert [p.fix.fix_time.ToDatetime(tzinfo=UTC) for p in positions] == [
            fix_at(i, lane).fix_time for i in range(count)
        ], "per-device order"
        for i, p in enumerate(positions):
            assert p.device_id == device_id
            assert p.fix.latitude == pytest.approx(fix_at(i, lane).latitude, abs=1e-5)
            assert p.fix.longitude == pytest.approx(fix_at(i, lane).longitude, abs=1e-5)
            assert p.fix.speed_kmh == pytest.approx(fix_at(i, lane).speed_kmh, abs=0.5)
    sessions = [
        DeviceConnected.FromString(r.value).device_id
        for r in await read_all(settings, "tracking.device-sessions.v1")
        if r.key.decode() in ours and dict(r.headers)["ce_type"].endswith(b"DeviceConnected")
    ]
    assert sorted(sessions) == sorted(ours)
