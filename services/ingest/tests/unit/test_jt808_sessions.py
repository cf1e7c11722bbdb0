"""JT/T 808 terminals over real TCP against ingest wired with fakes."""

from __future__ import annotations

import asyncio
import hashlib
import struct

import pytest

from ingest.domain.commands import Command
from services.ingest.tests.unit.conftest import Harness, closed
from trackstream.tracking.v1 import alarm_pb2, command_pb2, device_pb2, media_pb2, position_pb2
from trackstream_protocols import jt808
from trackstream_protocols.bcd import encode_bcd

PHONE = "013912345678"
TERMINAL_2013 = jt808.Jt808Address.from_phone(PHONE)
TERMINAL_2019 = jt808.Jt808Address.from_phone("1" * 20, protocol_version=1)


def register_body(edition: str = "2013") -> bytes:
    # manufacturer, model and terminal id widths: 5/20/7 bytes (2013), 11/30/30 (2019)
    widths = (5, 20, 7) if edition == "2013" else (11, 30, 30)
    fields = (b"JIMI0", b"JC371", b"T000001")
    return (
        struct.pack(">HH", 44, 100)
        + b"".join(f.ljust(w, b"\x00") for f, w in zip(fields, widths, strict=True))
        + b"\x01"
        + "A12345".encode("gbk")
    )


def location_body(*, alarm: int = 0, lat: float = 41.0082, lon: float = 28.9784) -> bytes:
    status = 0b11  # ACC on, positioned
    return struct.pack(
        ">IIIIHHH",
        alarm,
        status,
        round(lat * 1e6),
        round(lon * 1e6),
        35,
        523,  # 52.3 km/h
        90,
    ) + encode_bcd("261129193000", 6)  # 2026-11-29 19:30:00 GMT+8


async def responses(reader: asyncio.StreamReader, count: int) -> list[jt808.Jt808Frame]:
    splitter = jt808.Jt808FrameSplitter()
    frames: list[jt808.Jt808Frame] = []
    async with asyncio.timeout(5):
        while len(frames) < count:
            data = await reader.read(4096)
            assert data, "the server closed the connection"
            frames += splitter.feed(data)
    return frames


def body_of(frame: jt808.Jt808Frame) -> tuple[int, bytes]:
    header, body = jt808.parse_header(frame.content)
    return header.msg_id, body


async def authenticate(
    harness: Harness, address: jt808.Jt808Address
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await harness.connect("jt808")
    edition = "2019" if address.is_2019 else "2013"
    writer.write(jt808.encode_frame(address, jt808.MsgId.REGISTER, 1, register_body(edition)))
    [register_response] = await responses(reader, 1)
    msg_id, body = body_of(register_response)
    assert msg_id == 0x8100
    reply_serial, result = struct.unpack(">HB", body[:3])
    auth_code = body[3:].decode()
    assert (reply_serial, result) == (1, 0) and len(auth_code) == 16
    writer.write(jt808.encode_frame(address, jt808.MsgId.AUTHENTICATE, 2, auth_code.encode()))
    [auth_response] = await responses(reader, 1)
    msg_id, body = body_of(auth_response)
    assert msg_id == 0x8001 and struct.unpack(">HHB", body) == (2, 0x0102, 0)
    return reader, writer


async def test_register_authenticate_and_report_positions_and_alarms(harness: Harness) -> None:
    harness.register(PHONE, "dev-808")
    reader, writer = await authenticate(harness, TERMINAL_2013)
    [connected] = harness.events("tracking.device-sessions.v1")
    assert isinstance(connected, device_pb2.DeviceConnected)
    assert connected.device_id == "dev-808" and connected.protocol_edition == "2013"

    writer.write(jt808.encode_frame(TERMINAL_2013, jt808.MsgId.LOCATION, 3, location_body(alarm=1)))
    [ack] = await responses(reader, 1)
    assert body_of(ack) == (0x8001, struct.pack(">HHB", 3, 0x0200, 0))
    [position] = harness.events("tracking.positions.v1")
    assert isinstance(position, position_pb2.PositionReported)
    assert position.fix.latitude == pytest.approx(41.0082)
    assert position.fix.speed_kmh == pytest.approx(52.3)
    assert position.fix.fix_time.ToJsonString() == "2026-11-29T11:30:00Z"  # GMT+8 -> UTC
    assert position.ignition is True
    [alarm] = harness.events("tracking.device-alarms.v1")
    assert isinstance(alarm, alarm_pb2.DeviceAlarmReported)
    assert alarm.alarm_type == "sos" and alarm.fix.latitude == pytest.approx(41.0082)


async def test_a_wrong_auth_code_is_refused(harness: Harness) -> None:
    harness.register(PHONE, "dev-808")
    reader, writer = await harness.connect("jt808")
    writer.write(jt808.encode_frame(TERMINAL_2013, jt808.MsgId.AUTHENTICATE, 7, b"not-the-code"))
    [response] = await responses(reader, 1)
    assert body_of(response) == (0x8001, struct.pack(">HHB", 7, 0x0102, 1))  # failure
    writer.write(jt808.encode_frame(TERMINAL_2013, jt808.MsgId.LOCATION, 8, location_body()))
    assert await closed(reader), "data without authentication closes the connection"
    assert harness.publisher.published == []


async def test_2019_terminal_uploads_a_blind_area_batch(harness: Harness) -> None:
    harness.register("1" * 20, "dev-2019")
    reader, writer = await authenticate(harness, TERMINAL_2019)
    items = [location_body(lat=41.0 + i / 100) for i in range(3)]
    batch = struct.pack(">HB", len(items), 1) + b"".join(
        struct.pack(">H", len(i)) + i for i in items
    )
    writer.write(jt808.encode_frame(TERMINAL_2019, jt808.MsgId.LOCATION_BATCH, 9, batch))
    await responses(reader, 1)
    positions = harness.events("tracking.positions.v1")
    assert [round(p.fix.latitude, 2) for p in positions] == [41.0, 41.01, 41.02]  # type: ignore[attr-defined]
    assert all(p.archived for p in positions)  # type: ignore[attr-defined]


async def test_a_sub_packaged_picture_is_reassembled_stored_and_announced(harness: Harness) -> None:
    harness.register(PHONE, "dev-808")
    reader, writer = await authenticate(harness, TERMINAL_2013)
    picture = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 12 + b"\xff\xd9"  # 3 KiB "JPEG"
    body = struct.pack(">IBBBB", 77, 0, 0, 0, 1) + location_body() + picture
    frames = jt808.encode_frames(TERMINAL_2013, jt808.MsgId.MULTIMEDIA_DATA, 20, body)
    assert len(frames) > 2
    for frame in frames:
        writer.write(frame)
    [response] = await responses(reader, 1)
    assert body_of(response) == (0x8800, struct.pack(">IB", 77, 0))
    [(key, (data, content_type))] = harness.media.objects.items()
    assert data == picture and content_type == "image/jpeg"
    assert key.startswith("dev-808/") and key.endswith(".jpg")
    [uploaded] = harness.events("tracking.media.v1")
    assert isinstance(uploaded, media_pb2.MediaUploaded)
    assert uploaded.object_key == key and uploaded.size_bytes == len(picture)
    assert uploaded.sha256 == hashlib.sha256(picture).hexdigest()
    assert uploaded.media_type == media_pb2.MEDIA_TYPE_IMAGE and uploaded.media_id == 77


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # a photo: one shot, no interval
        ({"channel": "2", "count": "1"}, (2, 1, 0)),
        # a clip (media's capture): command word 0xFFFF records for interval_s seconds
        ({"channel": "1", "count": "65535", "interval_s": "15"}, (1, 0xFFFF, 15)),
    ],
)
async def test_take_photo_and_record_clip_go_out_as_0x8801(
    harness: Harness, parameters: dict[str, str], expected: tuple[int, int, int]
) -> None:
    harness.register(PHONE, "dev-808")
    reader, _writer = await authenticate(harness, TERMINAL_2013)
    command = Command(
        command_id="capture-1",
        device_id="dev-808",
        kind=command_pb2.COMMAND_KIND_TAKE_PHOTO,
        text="",
        parameters=parameters,
        expires_at=harness.clock.value.replace(year=2027),
    )
    await harness.app.dispatcher.on_requested(command, live=True)
    [frame] = await responses(reader, 1)
    msg_id, body = body_of(frame)
    assert msg_id == 0x8801
    # JT/T 808-2013 0x8801: channel BYTE, command WORD, interval/recording time WORD, save
    # flag BYTE, resolution, quality, brightness, contrast, saturation, chroma BYTE
    assert len(body) == 12
    assert struct.unpack(">BHH", body[:5]) == expected
    assert body[5] == 0  # upload now, not saved on the card
