"""GT06 devices over real TCP against ingest wired with fakes."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from ingest.domain.commands import Command
from ingest.domain.events import position_event_id
from services.ingest.tests.unit.conftest import Harness, closed, read_exactly
from trackstream.tracking.v1 import command_pb2, device_pb2, position_pb2, quarantine_pb2
from trackstream_kafka import PublishError
from trackstream_protocols import gt06

# real frames (libs/protocols/tests/gt06_frames.py): a login with IMEI 0123456789012345 (as
# BCD, 15 digits: 123456789012345), and a GPS+LBS 0x12 location in Lithuania
LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")
IMEI = "123456789012345"
LOCATION = bytes.fromhex("78781f120f0a140e150bc505e51e780293a9e800540000f601006e0055da00035f240d0a")


def ack_of(frame: bytes) -> bytes:
    [parsed] = gt06.Gt06FrameSplitter().feed(frame)
    ack = gt06.encode_ack(gt06.decode(parsed))
    assert ack is not None
    return ack


async def test_registered_device_is_acknowledged_only_after_its_events_are_published(
    harness: Harness,
) -> None:
    harness.register(IMEI, "dev-1")
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    assert await read_exactly(reader, len(ack_of(LOGIN))) == ack_of(LOGIN)
    [connected] = harness.events("tracking.device-sessions.v1")
    assert isinstance(connected, device_pb2.DeviceConnected)
    assert connected.device_id == "dev-1" and connected.protocol == 1

    writer.write(LOCATION)
    assert await read_exactly(reader, len(ack_of(LOCATION))) == ack_of(LOCATION)
    [published] = harness.publisher.on("tracking.positions.v1")
    position = published.message
    assert isinstance(position, position_pb2.PositionReported)
    assert published.key == "dev-1" and position.device_id == "dev-1"
    assert position.fix.latitude == pytest.approx(98901624 / 1_800_000)  # 0x05E51E78
    assert position.fix.longitude == pytest.approx(43231720 / 1_800_000)  # 0x0293A9E8
    assert position.origin.message_serial == 0x0003
    assert published.envelope is not None
    # the id is derived from (device, fix time, serial), so a retransmission keeps it
    fix_time = position.fix.fix_time.ToDatetime(tzinfo=UTC)
    assert published.envelope.id == position_event_id("dev-1", fix_time, 0x0003)
    writer.close()


async def test_a_failed_publish_acknowledges_nothing_and_closes(harness: Harness) -> None:
    harness.register(IMEI, "dev-1")
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    await read_exactly(reader, len(ack_of(LOGIN)))
    harness.publisher.fail_next = PublishError("broker gone")
    writer.write(LOCATION)
    assert await closed(reader), "the connection must close without an ACK"
    assert harness.publisher.on("tracking.positions.v1") == []


async def test_garbage_closes_that_connection_only(harness: Harness) -> None:
    harness.register(IMEI, "dev-1")
    good_reader, good_writer = await harness.connect("gt06")
    bad_reader, bad_writer = await harness.connect("gt06")
    good_writer.write(LOGIN)
    await read_exactly(good_reader, len(ack_of(LOGIN)))
    bad_writer.write(
        b"\x78\x78\xff" + b"\x00" * 300
    )  # a frame declaring 255 bytes, never ending right
    bad_writer.write(b"GET / HTTP/1.1\r\n\r\n" * 2000)  # 36 KB of noise: more than a frame
    assert await closed(bad_reader)
    good_writer.write(LOCATION)
    assert await read_exactly(good_reader, len(ack_of(LOCATION))) == ack_of(LOCATION)


async def test_data_before_login_closes_the_connection(harness: Harness) -> None:
    reader, writer = await harness.connect("gt06")
    writer.write(LOCATION)
    assert await closed(reader)
    assert harness.publisher.published == []


async def test_unknown_device_is_quarantined_and_its_positions_are_not_acknowledged(
    harness: Harness,
) -> None:
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    assert await read_exactly(reader, len(ack_of(LOGIN))) == ack_of(LOGIN)
    writer.write(LOCATION)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    seen = harness.events("tracking.quarantine.v1")
    assert len(seen) == 2  # announced at login, then with its last fix
    last = seen[-1]
    assert isinstance(last, quarantine_pb2.UnknownDeviceSeen)
    assert last.identifier_tail == IMEI[-4:] and last.last_fix.latitude > 54
    assert IMEI.encode() not in last.SerializeToString()
    assert harness.publisher.on("tracking.positions.v1") == []


async def test_an_erased_device_is_cut_off_and_comes_back_only_under_a_new_id(
    harness: Harness,
) -> None:
    harness.register(IMEI, "dev-erased")
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    await read_exactly(reader, len(ack_of(LOGIN)))
    writer.write(LOCATION)
    await read_exactly(reader, len(ack_of(LOCATION)))
    assert [p.key for p in harness.publisher.on("tracking.positions.v1")] == ["dev-erased"]

    harness.directory.apply("dev-erased", None)  # identity's tombstone after the erasure
    writer.write(LOCATION)  # still connected: dropped, and the connection closes
    assert await closed(reader)
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)  # logs in again: now an unknown device (quarantined by default)
    await read_exactly(reader, len(ack_of(LOGIN)))
    writer.write(LOCATION)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    assert [p.key for p in harness.publisher.on("tracking.positions.v1")] == ["dev-erased"]
    writer.close()

    harness.register(IMEI, "dev-new")  # registered again: identity gives a new id
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    await read_exactly(reader, len(ack_of(LOGIN)))
    writer.write(LOCATION)
    await read_exactly(reader, len(ack_of(LOCATION)))
    keys = [p.key for p in harness.publisher.on("tracking.positions.v1")]
    assert keys == ["dev-erased", "dev-new"]
    writer.close()


@pytest.mark.parametrize("harness", [{"unknown_device_policy": "reject"}], indirect=True)
async def test_unknown_device_is_refused_under_the_reject_policy(harness: Harness) -> None:
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    assert await closed(reader)
    assert harness.publisher.published == []


async def test_engine_stop_goes_out_and_the_reply_is_correlated(harness: Harness) -> None:
    harness.register(IMEI, "dev-1")
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    await read_exactly(reader, len(ack_of(LOGIN)))
    await asyncio.sleep(0.05)
    command = Command(
        command_id="cmd-1",
        device_id="dev-1",
        kind=command_pb2.COMMAND_KIND_ENGINE_STOP,
        text="",
        parameters={},
        expires_at=harness.clock.value.replace(year=2027),
    )
    await harness.app.dispatcher.on_requested(command, live=True)
    head = await read_exactly(reader, 3)
    rest = await read_exactly(reader, head[2] + 2)
    [frame] = gt06.Gt06FrameSplitter().feed(head + rest)
    assert frame.protocol == 0x80 and b"Relay,1#" in frame.content
    server_flag = int.from_bytes(frame.content[1:5], "big")

    reply = gt06.encode_frame(0x21, server_flag.to_bytes(4, "big") + b"\x01Relay cut OK", serial=9)
    writer.write(reply)  # 0x21 expects no ACK
    for _ in range(100):
        if len(harness.events("tracking.command-results.v1")) == 2:
            break
        await asyncio.sleep(0.02)
    results = harness.events("tracking.command-results.v1")
    statuses = [(r.command_id, r.status) for r in results]  # type: ignore[attr-defined]
    assert statuses == [
        ("cmd-1", command_pb2.COMMAND_STATUS_DELIVERED),
        ("cmd-1", command_pb2.COMMAND_STATUS_REPLIED),
    ]
    assert results[-1].reply_text == "Relay cut OK"  # type: ignore[attr-defined]


async def test_a_command_for_an_offline_device_waits_and_goes_out_at_login(
    harness: Harness,
) -> None:
    harness.register(IMEI, "dev-1")
    later = harness.clock.value.replace(hour=13)
    await harness.app.dispatcher.on_requested(
        Command("cmd-2", "dev-1", command_pb2.COMMAND_KIND_CUSTOM_TEXT, "WHERE#", {}, later),
        live=True,
    )
    await harness.app.dispatcher.on_requested(
        Command(
            "cmd-3",
            "dev-1",
            command_pb2.COMMAND_KIND_CUSTOM_TEXT,
            "STATUS#",
            {},
            harness.clock.value.replace(minute=1),
        ),
        live=True,
    )
    harness.clock.value = harness.clock.value.replace(minute=30)
    await harness.app.dispatcher.expire_due()
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    data = await asyncio.wait_for(reader.read(200), 5)
    await asyncio.sleep(0.1)
    data += await asyncio.wait_for(reader.read(200), 5) if b"WHERE#" not in data else b""
    assert b"WHERE#" in data and b"STATUS#" not in data
    statuses = [(r.command_id, r.status) for r in harness.events("tracking.command-results.v1")]  # type: ignore[attr-defined]
    assert statuses == [
        ("cmd-3", command_pb2.COMMAND_STATUS_EXPIRED),
        ("cmd-2", command_pb2.COMMAND_STATUS_DELIVERED),
    ]


@pytest.mark.parametrize("harness", [{"idle_timeout_s": 0.3}], indirect=True)
async def test_an_idle_device_is_disconnected_with_the_reason(harness: Harness) -> None:
    harness.register(IMEI, "dev-1")
    reader, writer = await harness.connect("gt06")
    writer.write(LOGIN)
    await read_exactly(reader, len(ack_of(LOGIN)))
    assert await closed(reader)
    for _ in range(50):
        if len(harness.events("tracking.device-sessions.v1")) == 2:
            break
        await asyncio.sleep(0.02)
    _connected, disconnected = harness.events("tracking.device-sessions.v1")
    assert isinstance(disconnected, device_pb2.DeviceDisconnected)
    assert disconnected.reason == device_pb2.DISCONNECT_REASON_IDLE_TIMEOUT
