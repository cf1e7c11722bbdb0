"""JT/T 808 terminal-side builders: byte-exact against public frames, and round trips through the
platform's own splitter, decoder and response policy (2013 and 2019 headers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests import jt808_frames as F
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols import ProtocolError
from trackstream_protocols.jt808 import (
    CHINA_STANDARD_TIME,
    Authenticate,
    GeneralResult,
    Heartbeat,
    Jt808Address,
    Jt808Decoder,
    Jt808FrameSplitter,
    Jt808Packet,
    Location,
    LocationBatch,
    MsgId,
    Register,
    TerminalResponse,
    encode_authenticate,
    encode_heartbeat,
    encode_location,
    encode_location_batch,
    encode_register,
    encode_terminal_response,
    location_body,
    positions,
    required_response,
    split_batches,
    status_flags,
)
from trackstream_protocols.jt808.device import (
    ALARM_OVERSPEED,
    ALARM_POWER_CUT,
    ALARM_SOS,
    BATCH_NORMAL,
    STATUS_ACC,
    STATUS_POSITIONED,
)
from trackstream_protocols.model import Fix

PHONE = "013912345678"
V2013 = Jt808Address.from_phone(PHONE)
V2019 = Jt808Address.from_phone(PHONE, protocol_version=1)
WHEN = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def fix(**changes: object) -> Fix:
    values: dict[str, object] = {
        "fix_time": WHEN,
        "latitude": 41.008241,
        "longitude": 28.978359,
        "speed_kmh": 47.3,
        "course_deg": 93.0,
        "valid": True,
        "satellites": 11,
        "altitude_m": 38.0,
    }
    values.update(changes)
    return Fix(**values)  # type: ignore[arg-type]


def packet_of(raw: bytes, decoder: Jt808Decoder | None = None) -> Jt808Packet:
    """One frame through the platform's splitter (check byte required) and decoder."""
    splitter = Jt808FrameSplitter()
    frames = splitter.feed(raw)
    assert len(frames) == 1 and frames[0].checksum_ok
    assert splitter.garbage_bytes == 0 and splitter.bad_checksum_frames == 0
    return (decoder or Jt808Decoder()).decode(frames[0])


def real(frame: str) -> Jt808Packet:
    return Jt808Decoder().decode(Jt808FrameSplitter(keep_bad_checksum=True).feed(F.raw(frame))[0])


# --- byte-exact against public frames ------------------------------------------------------------


@pytest.mark.parametrize("frame", [F.HEARTBEAT, F.HEARTBEAT_2019])
def test_heartbeat_matches_public_frames(frame: str) -> None:
    header = real(frame).header
    assert encode_heartbeat(header.address, header.serial) == F.raw(frame)


def test_authentication_matches_public_frames_in_both_editions() -> None:
    packet = real(F.AUTH_2013)
    assert isinstance(packet.message, Authenticate)
    built = encode_authenticate(
        packet.header.address, packet.header.serial, auth_code=packet.message.auth_code
    )
    assert built == F.raw(F.AUTH_2013)

    packet = real(F.AUTH_2019)
    message = packet.message
    assert isinstance(message, Authenticate) and packet.header.is_2019
    built = encode_authenticate(
        packet.header.address,
        packet.header.serial,
        auth_code=message.auth_code,
        imei=message.imei or "",
        software_version=message.software_version or "",
    )
    assert built == F.raw(F.AUTH_2019)


@pytest.mark.parametrize("frame", [F.REGISTER_2013, F.REGISTER_2019_GO])
def test_registration_matches_public_frames_in_both_editions(frame: str) -> None:
    packet = real(frame)
    message = packet.message
    assert isinstance(message, Register)
    built = encode_register(
        packet.header.address,
        packet.header.serial,
        province_id=message.province_id,
        city_id=message.city_id,
        manufacturer_id=message.manufacturer_id,
        terminal_model=message.terminal_model,
        terminal_id=message.terminal_id,
        plate_color=message.plate_color,
        plate=message.plate,
    )
    assert built == F.raw(frame)


def test_location_rebuilt_from_its_decoded_values_is_byte_identical() -> None:
    packet = real(F.LOCATION_2A)
    location = packet.message
    assert isinstance(location, Location)
    built = encode_location(
        packet.header.address,
        packet.header.serial,
        location.fix,
        alarm_flags=location.alarm_flags,
        status=location.status_flags,
        mileage_m=int(location.fix.attributes["odometer"]),  # type: ignore[call-overload]
        rssi=int(location.fix.attributes["rssi"]),  # type: ignore[call-overload]
        extra_items=[(0x2A, b"\x00\x00")],
    )
    assert built == F.raw(F.LOCATION_2A)


def test_batch_matches_a_public_2019_frame() -> None:
    packet = real(F.BATCH_BLIND_2019)
    batch = packet.message
    assert isinstance(batch, LocationBatch)
    [location] = batch.locations
    body = location_body(
        location.fix,
        status=location.status_flags,
        mileage_m=int(location.fix.attributes["odometer"]),  # type: ignore[call-overload]
        rssi=int(location.fix.attributes["rssi"]),  # type: ignore[call-overload]
    )
    built = encode_location_batch(
        packet.header.address, packet.header.serial, [body], batch_type=batch.batch_type
    )
    assert built == F.raw(F.BATCH_BLIND_2019)


def test_terminal_response_matches_a_public_frame() -> None:
    packet = real(F.TERMINAL_RESPONSE_GO)
    message = packet.message
    assert isinstance(message, TerminalResponse)
    built = encode_terminal_response(
        packet.header.address,
        packet.header.serial,
        reply_serial=message.reply_serial,
        reply_msg_id=message.reply_msg_id,
        result=message.result,
    )
    assert built == F.raw(F.TERMINAL_RESPONSE_GO)


# --- round trips through the platform codec ------------------------------------------------------


@pytest.mark.parametrize("to", [V2013, V2019], ids=["2013", "2019"])
def test_register_then_authenticate_round_trip(to: Jt808Address) -> None:
    packet = packet_of(
        encode_register(
            to,
            1,
            manufacturer_id="TRKST",
            terminal_model="SIM-808",
            terminal_id="2345678",
            province_id=34,
            city_id=100,
            plate_color=1,
            plate="34 SIM 001",
        )
    )
    assert packet.header.edition == ("2019" if to.is_2019 else "2013")
    assert packet.header.phone.lstrip("0") == PHONE.lstrip("0")
    assert packet.message == Register(34, 100, "TRKST", "SIM-808", "2345678", 1, "34 SIM 001")
    needed = required_response(packet)
    assert needed is not None and needed.msg_id == MsgId.REGISTER_RESPONSE
    assert (needed.reply_serial, needed.to) == (1, to)

    packet = packet_of(
        encode_authenticate(
            to, 2, auth_code="c0ffee", imei="359339077003915", software_version="1.0.0"
        )
    )
    expected = (
        Authenticate("c0ffee", "359339077003915", "1.0.0") if to.is_2019 else Authenticate("c0ffee")
    )
    assert packet.message == expected
    needed = required_response(packet)
    assert needed is not None and needed.msg_id == MsgId.PLATFORM_RESPONSE
    assert (needed.reply_serial, needed.reply_msg_id) == (2, MsgId.AUTHENTICATE)


@pytest.mark.parametrize("to", [V2013, V2019], ids=["2013", "2019"])
def test_location_round_trip_with_alarms_status_and_additional_items(to: Jt808Address) -> None:
    raw = encode_location(
        to,
        0x7E7D,  # a serial that must be escaped on the wire
        fix(),
        alarm_flags=ALARM_SOS | ALARM_OVERSPEED | ALARM_POWER_CUT,
        ignition=True,
        mileage_m=1_234_500,
        rssi=24,
    )
    assert raw.count(b"\x7e") == 2
    packet = packet_of(raw)
    location = packet.message
    assert isinstance(location, Location)
    got = verify_position(location.fix, now=WHEN)
    assert got.fix_time == WHEN
    assert (got.latitude, got.longitude) == (41.008241, 28.978359)
    assert (got.speed_kmh, got.course_deg, got.valid, got.satellites, got.altitude_m) == (
        47.3,
        93.0,
        True,
        11,
        38.0,
    )
    assert got.attributes["alarm"] == "sos,overspeed,powerOff"
    assert got.attributes["ignition"] is True
    assert got.attributes["odometer"] == 1_234_500
    assert got.attributes["rssi"] == 24
    assert location.status_flags == STATUS_ACC | STATUS_POSITIONED
    assert [item.id for item in location.extras] == [0x01, 0x30, 0x31]
    assert location.unknown == ()
    needed = required_response(packet)
    assert needed is not None
    assert (needed.msg_id, needed.reply_serial, needed.reply_msg_id) == (0x8001, 0x7E7D, 0x0200)


def test_southern_western_negative_altitude_and_other_zones() -> None:
    zone = timezone(timedelta(hours=3))
    raw = encode_location(
        V2013, 1, fix(latitude=-22.9068, longitude=-43.1729, altitude_m=-12.0), tz=zone
    )
    location = packet_of(raw, Jt808Decoder(device_tz=zone)).message
    assert isinstance(location, Location)
    assert (location.fix.latitude, location.fix.longitude) == (-22.9068, -43.1729)
    assert location.fix.altitude_m == -12.0
    assert location.fix.fix_time == WHEN
    assert location.fix.attributes.get("alarm") is None


def test_status_flags() -> None:
    assert status_flags(fix()) == STATUS_POSITIONED
    assert status_flags(fix(valid=False, latitude=-1.0, longitude=-1.0), ignition=True) == 0b1101


def test_heartbeat_and_terminal_response_round_trip() -> None:
    packet = packet_of(encode_heartbeat(V2019, 9))
    assert packet.message == Heartbeat()
    needed = required_response(packet)
    assert needed is not None and (needed.reply_serial, needed.reply_msg_id) == (9, 0x0002)

    packet = packet_of(
        encode_terminal_response(
            V2013,
            10,
            reply_serial=77,
            reply_msg_id=MsgId.TEXT_MESSAGE,
            result=GeneralResult.SUCCESS,
        )
    )
    assert packet.message == TerminalResponse(77, 0x8300, 0)
    assert required_response(packet) is None  # it answers the platform: no reply


@pytest.mark.parametrize("to", [V2013, V2019], ids=["2013", "2019"])
def test_blind_area_batches_split_to_fit_and_arrive_in_order_as_archive(to: Jt808Address) -> None:
    fixes = [fix(fix_time=WHEN + timedelta(seconds=10 * i), speed_kmh=float(i)) for i in range(60)]
    bodies = [location_body(f, mileage_m=100 * i, rssi=20) for i, f in enumerate(fixes)]
    batches = split_batches(bodies)
    assert len(batches) == 3 and sum(len(b) for b in batches) == 60
    received: list[Fix] = []
    for serial, batch in enumerate(batches):
        packet = packet_of(encode_location_batch(to, serial, batch))
        message = packet.message
        assert isinstance(message, LocationBatch) and message.archive
        assert packet.header.body_length <= 1023
        for position in positions(message):
            verify_position(position, now=WHEN + timedelta(hours=1))
            assert position.attributes["archive"] is True
            received.append(position)
        needed = required_response(packet)
        assert needed is not None and needed.reply_msg_id == MsgId.LOCATION_BATCH
    assert [p.fix_time for p in received] == [f.fix_time for f in fixes]
    assert [p.speed_kmh for p in received] == [float(i) for i in range(60)]


def test_normal_batch_is_not_archive() -> None:
    message = packet_of(
        encode_location_batch(V2013, 1, [location_body(fix())], batch_type=BATCH_NORMAL)
    ).message
    assert isinstance(message, LocationBatch) and not message.archive
    assert "archive" not in message.locations[0].fix.attributes


# --- properties ----------------------------------------------------------------------------------

fixes = st.builds(
    Fix,
    fix_time=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
    latitude=st.integers(-90_000_000, 90_000_000).map(lambda v: v / 1e6),
    longitude=st.integers(-180_000_000, 180_000_000).map(lambda v: v / 1e6),
    speed_kmh=st.integers(0, 6553).map(lambda v: v / 10),
    course_deg=st.integers(0, 359).map(float),
    valid=st.booleans(),
    satellites=st.none() | st.integers(0, 255),
    altitude_m=st.integers(-0x7FFF, 0x7FFF).map(float),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=fixes,
    to=st.sampled_from([V2013, V2019]),
    serial=st.integers(0, 0xFFFF),
    alarm=st.integers(0, 0xFFFFFFFF),
)
def test_any_fix_round_trips_exactly(
    position: Fix, to: Jt808Address, serial: int, alarm: int
) -> None:
    packet = packet_of(encode_location(to, serial, position, alarm_flags=alarm))
    location = packet.message
    assert isinstance(location, Location)
    got = location.fix
    assert (got.fix_time, got.latitude, got.longitude) == (
        position.fix_time,
        position.latitude,
        position.longitude,
    )
    assert (got.speed_kmh, got.course_deg, got.valid, got.satellites, got.altitude_m) == (
        position.speed_kmh,
        position.course_deg,
        position.valid,
        position.satellites,
        position.altitude_m,
    )
    assert location.alarm_flags == alarm
    assert packet.header.serial == serial
    verify_position(got, now=datetime(2100, 1, 1, tzinfo=UTC))


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: encode_location(V2013, 1, fix(fix_time=datetime(2026, 1, 1))),
        lambda: encode_location(V2013, 1, fix(fix_time=datetime(2100, 6, 1, tzinfo=UTC))),
        lambda: encode_location(V2013, 1, fix(longitude=180.5)),
        lambda: encode_location(V2013, 1, fix(altitude_m=40_000.0)),
        lambda: encode_location(V2013, 0x10000, fix()),
        lambda: location_body(fix(), extra_items=[(0x31, b"\x01")]),
        lambda: location_body(fix(), extra_items=[(0x99, bytes(256))]),
        lambda: encode_register(
            V2013, 1, manufacturer_id="TOOLONG", terminal_model="", terminal_id=""
        ),
        lambda: encode_authenticate(V2013, 1, auth_code=""),
        lambda: encode_location_batch(V2013, 1, []),
        lambda: encode_location_batch(V2013, 1, [location_body(fix())] * 40),
        lambda: split_batches([bytes(1100)]),
    ],
)
def test_values_a_frame_cannot_carry_raise_protocol_error(build: object) -> None:
    with pytest.raises(ProtocolError):
        build()  # type: ignore[operator]


def test_default_zone_is_china_standard_time() -> None:
    body = location_body(fix())
    assert body[22:28] == bytes.fromhex("260314172653")  # 09:26:53 UTC is 17:26:53 GMT+8
    assert CHINA_STANDARD_TIME.utcoffset(None) == timedelta(hours=8)
