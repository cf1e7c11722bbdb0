"""GT06 device-side builders: byte-exact against real device frames, and round trips through the
server's own splitter, decoder and acknowledgement encoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06 import (
    ALARM_CODES,
    ALARM_OVERSPEED,
    ALARM_POWER_CUT,
    ALARM_SOS,
    Gt06Alarm,
    Gt06FrameSplitter,
    Gt06Heartbeat,
    Gt06Location,
    Gt06Login,
    Gt06Message,
    Gt06TextReply,
    decode,
    encode_ack,
    encode_alarm,
    encode_command_reply,
    encode_heartbeat,
    encode_location,
    encode_login,
    needs_ack,
    parse_frame,
    terminal_info,
    timezone_word,
)
from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower

ISTANBUL = timezone(timedelta(hours=3))
WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def fix(**changes: object) -> Fix:
    values: dict[str, object] = {
        "fix_time": WHEN,
        "latitude": 41.0082,
        "longitude": 28.9784,
        "speed_kmh": 47.0,
        "course_deg": 93.0,
        "valid": True,
        "satellites": 9,
    }
    values.update(changes)
    return Fix(**values)  # type: ignore[arg-type]


def decoded(raw: bytes, tz: timezone = UTC) -> Gt06Message:
    """One frame through the server's splitter and decoder (CRC required)."""
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(raw)
    assert len(frames) == 1 and frames[0].crc_ok and splitter.skipped_bytes == 0
    assert frames[0].raw == raw
    return decode(frames[0], tz=tz, require_crc=True)


# --- byte-exact against real device frames -------------------------------------------------------


def test_login_with_type_and_timezone_matches_a_real_device() -> None:
    built = encode_login(
        "864717003664467", serial=2, type_id=0x100F, utc_offset=timedelta(hours=-4), language=2
    )
    assert built == frame_bytes(F.LOGIN_TZ_WEST4)


def test_short_login_and_utc_word_match_real_devices() -> None:
    assert encode_login("864717003283581", serial=9, type_id=None) == frame_bytes(F.LOGIN_SHORT)
    built = encode_login(
        "863586038760942", serial=0x010A, type_id=0xA001, utc_offset=timedelta(0), language=0
    )
    assert built == frame_bytes(F.LOGIN_TZ_ZERO)


@pytest.mark.parametrize("frame", [F.GPS_LBS_22, F.GPS_LBS_22_AUSTRIA, F.GPS_LBS_22_INDIA])
def test_location_rebuilt_from_its_decoded_values_is_byte_identical(frame: str) -> None:
    raw = frame_bytes(frame)
    message = decode(parse_frame(raw))
    assert isinstance(message, Gt06Location) and message.fix is not None
    assert message.cell is not None and message.serial is not None
    built = encode_location(
        message.fix,
        serial=message.serial,
        cell=message.cell,
        acc=bool(message.attributes["ignition"]),
        upload_mode=int(message.attributes["event"]),  # type: ignore[call-overload]
        reupload=bool(message.attributes["archive"]),
        gps_info_length=raw[10] >> 4,
    )
    assert built == raw


def test_heartbeat_matches_a_real_device() -> None:
    built = encode_heartbeat(serial=0x0129, info=0xC4, voltage_level=6, gsm_signal=4, language=2)
    assert built == frame_bytes(F.STATUS_13)


def test_alarms_rebuilt_from_their_decoded_values_are_byte_identical() -> None:
    raw = frame_bytes(F.ALARM_26_VIBRATION)
    message = decode(parse_frame(raw))
    assert isinstance(message, Gt06Alarm) and message.fix is not None
    assert message.serial is not None
    built = encode_alarm(
        message.fix,
        serial=message.serial,
        alarm=message.alarm_code,
        cell=message.cell,
        acc=False,
        info=0x0C,
        voltage_level=6,
        gsm_signal=4,
        language=2,
        gps_info_length=0x0C,
    )
    assert built == raw

    raw = frame_bytes(F.ALARM_16_VIBRATION)
    message = decode(parse_frame(raw))
    assert isinstance(message, Gt06Alarm) and message.fix is not None
    assert message.serial is not None
    built = encode_alarm(
        message.fix,
        serial=message.serial,
        alarm=message.alarm_code,
        protocol=0x16,
        cell=message.cell,
        info=0x48,
        voltage_level=4,
        gsm_signal=4,
        language=1,
    )
    assert built == raw


@pytest.mark.parametrize(
    ("frame", "utf16"), [(F.STRING_21_POSITION, False), (F.STRING_21_UTF16, True)]
)
def test_command_reply_matches_real_devices(frame: str, utf16: bool) -> None:
    raw = frame_bytes(frame)
    message = decode(parse_frame(raw))
    assert isinstance(message, Gt06TextReply) and message.serial is not None
    text = raw[10:-6].decode("utf-16-be" if utf16 else "ascii")
    built = encode_command_reply(
        text, server_flag=message.server_flag, serial=message.serial, utf16=utf16
    )
    assert built == raw


# --- round trips through the server codec --------------------------------------------------------


def test_login_round_trip_announces_the_device_zone() -> None:
    message = decoded(encode_login("359339077003915", serial=1, utc_offset=timedelta(hours=3)))
    assert isinstance(message, Gt06Login)
    assert message.imei == "359339077003915"
    assert message.timezone == ISTANBUL
    assert message.language == 2
    assert message.type_id == 0x3632
    assert encode_ack(message) == bytes.fromhex("787805010001d9dc0d0a")


def test_location_round_trip_keeps_every_value_in_the_device_zone() -> None:
    raw = encode_location(
        fix(), serial=0x1234, tz=ISTANBUL, acc=True, reupload=True, mileage=123_456
    )
    message = decoded(raw, tz=ISTANBUL)
    assert isinstance(message, Gt06Location) and message.fix is not None
    got = verify_position(message.fix, now=WHEN)
    assert got.fix_time == WHEN
    assert got.latitude == pytest.approx(41.0082, abs=1e-6)
    assert got.longitude == pytest.approx(28.9784, abs=1e-6)
    assert (got.speed_kmh, got.course_deg, got.valid, got.satellites) == (47.0, 93.0, True, 9)
    assert message.attributes == {"ignition": True, "event": 0, "archive": True, "odometer": 123456}
    assert message.cell == CellTower(mcc=286, mnc=1, lac=0x2A3C, cid=0x01C2D5)
    ack = encode_ack(message)
    assert ack is not None and ack == encode_ack(parse_frame(raw))
    assert ack.startswith(bytes.fromhex("787805221234")) and parse_frame(ack).crc_ok
    assert message.serial == 0x1234


def test_location_in_the_southern_and_western_hemispheres() -> None:
    message = decoded(encode_location(fix(latitude=-22.9068, longitude=-43.1729), serial=7))
    assert isinstance(message, Gt06Location) and message.fix is not None
    assert message.fix.latitude == pytest.approx(-22.9068, abs=1e-6)
    assert message.fix.longitude == pytest.approx(-43.1729, abs=1e-6)
    assert message.attributes["archive"] is False


def test_speed_course_and_satellites_are_clamped_to_what_the_frame_holds() -> None:
    message = decoded(
        encode_location(fix(speed_kmh=300.4, course_deg=359.6, satellites=22), serial=1)
    )
    assert isinstance(message, Gt06Location) and message.fix is not None
    assert (message.fix.speed_kmh, message.fix.course_deg, message.fix.satellites) == (
        255.0,
        0.0,
        15,
    )


def test_heartbeat_round_trip() -> None:
    info = terminal_info(ignition=True, charging=True)
    message = decoded(encode_heartbeat(serial=3, info=info, voltage_level=5, gsm_signal=3))
    assert isinstance(message, Gt06Heartbeat)
    assert message.attributes == {
        "status": 0x46,
        "ignition": True,
        "charge": True,
        "blocked": False,
        "batteryLevel": 83,
        "rssi": 3,
    }
    assert needs_ack(message)


@pytest.mark.parametrize(
    ("code", "name"),
    [(ALARM_SOS, "sos"), (ALARM_POWER_CUT, "powerCut"), (ALARM_OVERSPEED, "overspeed")],
)
@pytest.mark.parametrize("protocol", [0x16, 0x26])
def test_alarm_round_trip(code: int, name: str, protocol: int) -> None:
    assert ALARM_CODES[code] == name
    raw = encode_alarm(
        fix(speed_kmh=104.0),
        serial=99,
        alarm=code,
        protocol=protocol,
        tz=ISTANBUL,
        acc=True,
        info=terminal_info(ignition=True),
    )
    message = decoded(raw, tz=ISTANBUL)
    assert isinstance(message, Gt06Alarm) and message.fix is not None
    assert message.protocol == protocol
    assert (message.alarm, message.alarm_code) == (name, code)
    assert message.attributes["ignition"] is True
    verify_position(message.fix, now=WHEN)
    assert message.fix.fix_time == WHEN and message.fix.speed_kmh == 104.0
    ack = encode_ack(message)
    assert ack is not None and ack[3:6] == bytes([protocol, 0, 99])


def test_alarm_without_cell_sends_an_empty_lbs_block() -> None:
    message = decoded(encode_alarm(fix(), serial=1, alarm=ALARM_SOS, cell=None))
    assert isinstance(message, Gt06Alarm)
    assert message.cell is None and message.alarm == "sos"


def test_command_reply_is_decoded_with_the_echoed_flag_and_never_acknowledged() -> None:
    message = decoded(encode_command_reply("Relay,1# OK", server_flag=0xCAFE0001, serial=5))
    assert isinstance(message, Gt06TextReply)
    assert (message.server_flag, message.text) == (0xCAFE0001, "Relay,1# OK")
    assert not needs_ack(message)


def test_a_stream_of_device_frames_splits_back_into_the_same_frames() -> None:
    frames = [
        encode_login("359339077003915", serial=1),
        encode_location(fix(), serial=2),
        encode_heartbeat(serial=3),
        encode_alarm(fix(), serial=4, alarm=ALARM_SOS),
        encode_command_reply("OK", server_flag=1, serial=5),
    ]
    stream = b"".join(frames)
    splitter = Gt06FrameSplitter()
    got = []
    for i in range(0, len(stream), 7):
        got += splitter.feed(stream[i : i + 7])
    assert [f.raw for f in got] == frames
    assert [f.serial for f in got] == [1, 2, 3, 4, 5]


# --- properties ----------------------------------------------------------------------------------

fixes = st.builds(
    Fix,
    fix_time=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
    latitude=st.floats(min_value=-90.0, max_value=90.0),
    longitude=st.floats(min_value=-180.0, max_value=180.0),
    speed_kmh=st.integers(min_value=0, max_value=255).map(float),
    course_deg=st.integers(min_value=0, max_value=359).map(float),
    valid=st.booleans(),
    satellites=st.integers(min_value=0, max_value=15),
)
offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda q: timedelta(minutes=15 * q))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=fixes, offset=offsets, serial=st.integers(0, 0xFFFF), alarm=st.booleans())
def test_any_fix_round_trips_within_the_protocol_resolution(
    position: Fix, offset: timedelta, serial: int, alarm: bool
) -> None:
    tz = timezone(offset)
    if alarm:
        raw = encode_alarm(position, serial=serial, alarm=ALARM_SOS, tz=tz)
    else:
        raw = encode_location(position, serial=serial, tz=tz)
    message = decoded(raw, tz=tz)
    assert isinstance(message, Gt06Alarm | Gt06Location) and message.fix is not None
    got = message.fix
    assert got.fix_time == position.fix_time
    # 1/30000 minute is 1/1,800,000 degree
    assert got.latitude == pytest.approx(position.latitude, abs=1e-6)
    assert got.longitude == pytest.approx(position.longitude, abs=1e-6)
    assert (got.speed_kmh, got.course_deg, got.valid, got.satellites) == (
        position.speed_kmh,
        position.course_deg,
        position.valid,
        position.satellites,
    )
    assert message.serial == serial
    ack = encode_ack(message)
    assert ack is not None and parse_frame(ack).serial == serial
    verify_position(got, now=datetime(2100, 1, 1, tzinfo=UTC))


# --- errors --------------------------------------------------------------------------------------


def test_timezone_word_layout_and_limits() -> None:
    assert timezone_word(timedelta(hours=8)) == 0x3202
    assert timezone_word(timedelta(hours=-4), language=1) == 0x1909
    assert timezone_word(timedelta(hours=5, minutes=30)) == 0x2122  # 530 << 4 | English
    with pytest.raises(ProtocolError):
        timezone_word(timedelta(hours=15))
    with pytest.raises(ProtocolError):
        timezone_word(timedelta(seconds=30))


@pytest.mark.parametrize(
    "build",
    [
        lambda: encode_login("12345", serial=1),
        lambda: encode_login("35933907700391A", serial=1),
        lambda: encode_location(fix(fix_time=datetime(2026, 1, 1)), serial=1),
        lambda: encode_location(fix(fix_time=datetime(1999, 1, 1, tzinfo=UTC)), serial=1),
        lambda: encode_location(fix(latitude=91.0), serial=1),
        lambda: encode_location(fix(), serial=0x10000),
        lambda: encode_location(fix(), serial=1, cell=CellTower(mcc=310, mnc=410, lac=1, cid=1)),
        lambda: encode_heartbeat(serial=1, voltage_level=256),
        lambda: encode_alarm(fix(), serial=1, alarm=ALARM_SOS, protocol=0x22),
        lambda: encode_command_reply("Größe", server_flag=1, serial=1),
        lambda: terminal_info(alarm_bits=8),
    ],
)
def test_values_a_frame_cannot_carry_raise_protocol_error(build: object) -> None:
    with pytest.raises(ProtocolError):
        build()  # type: ignore[operator]
