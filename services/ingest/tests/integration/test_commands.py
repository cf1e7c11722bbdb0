"""Downlink commands through the real Kafka: requested on tracking.commands.v1, delivered to the
connected device (or held until it connects), results on tracking.command-results.v1."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from services.ingest.tests.integration.conftest import StartIngest, register, unique_imei
from tests.integration.helpers import read_all
from trackstream.tracking.v1 import command_pb2
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device


def requested(command_id: str, device_id: str, kind: int) -> command_pb2.CommandRequested:
    now = datetime.now(UTC)
    requested_time, expires = Timestamp(), Timestamp()
    requested_time.FromDatetime(now)
    expires.FromDatetime(now + timedelta(minutes=10))
    return command_pb2.CommandRequested(
        command_id=command_id,
        device_id=device_id,
        kind=kind,  # type: ignore[arg-type]
        requested_time=requested_time,
        expires_time=expires,
        requested_by="account-tests",
    )


class Frames:
    """The frames a device receives, one at a time (a read may carry several)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._splitter = gt06.Gt06FrameSplitter()
        self._pending: list[gt06.Gt06Frame] = []

    async def next(self) -> gt06.Gt06Frame:
        async with asyncio.timeout(20):
            while not self._pending:
                data = await self._reader.read(512)
                assert data, "ingest closed the connection"
                self._pending += self._splitter.feed(data)
        return self._pending.pop(0)


async def statuses(command_id: str, want: int) -> list[int]:
    mine: list[int] = []
    for _ in range(100):
        found = [
            command_pb2.CommandResult.FromString(r.value)
            for r in await read_all(KafkaSettings(), "tracking.command-results.v1")
            if r.value is not None
        ]
        mine = [r.status for r in found if r.command_id == command_id]
        if len(mine) >= want:
            return mine
        await asyncio.sleep(0.2)
    return mine


async def test_commands_reach_online_and_offline_devices_and_replies_are_recorded(
    start_ingest: StartIngest,
) -> None:
    run = uuid.uuid4().hex[:8]
    online_imei, offline_imei = unique_imei(), unique_imei()
    online, offline = f"dev-cmd-on-{run}", f"dev-cmd-off-{run}"
    await register({online_imei: online, offline_imei: offline})
    app = await start_ingest()
    port = app.ports["gt06"]

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = Frames(reader)
    writer.write(gt06_device.encode_login(online_imei, serial=1))
    assert (await frames.next()).protocol == 0x01  # login ACK

    publisher = EventPublisher.create(KafkaSettings(), source="/tests/gateway")
    await publisher.start()
    stop_id, held_id = f"cmd-stop-{run}", f"cmd-held-{run}"
    try:
        await publisher.publish(
            "tracking.commands.v1",
            requested(stop_id, online, command_pb2.COMMAND_KIND_ENGINE_STOP),
            key=online,
        )
        await publisher.publish(
            "tracking.commands.v1",
            requested(held_id, offline, command_pb2.COMMAND_KIND_ENGINE_RESUME),
            key=offline,
        )
    finally:
        await publisher.stop()

    command = await frames.next()
    assert command.protocol == 0x80 and b"Relay,1#" in command.content
    flag = int.from_bytes(command.content[1:5], "big")
    writer.write(gt06_device.encode_command_reply("Cut off fuel OK", server_flag=flag, serial=2))
    assert await statuses(stop_id, 2) == [
        command_pb2.COMMAND_STATUS_DELIVERED,
        command_pb2.COMMAND_STATUS_REPLIED,
    ]
    writer.close()

    assert await statuses(held_id, 0) == [], "held, not reported, while the device is offline"
    late_reader, late_writer = await asyncio.open_connection("127.0.0.1", port)
    late_frames = Frames(late_reader)
    late_writer.write(gt06_device.encode_login(offline_imei, serial=1))
    assert (await late_frames.next()).protocol == 0x01
    held = await late_frames.next()
    assert held.protocol == 0x80 and b"Relay,0#" in held.content
    assert await statuses(held_id, 1) == [command_pb2.COMMAND_STATUS_DELIVERED]
    late_writer.close()
