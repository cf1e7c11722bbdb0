"""JT/T 808 decoder on real, public frames: headers (2013 and 2019) and every message type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from libs.protocols.tests import jt808_frames as F
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols import ProtocolError
from trackstream_protocols.jt808 import (
    Authenticate,
    Heartbeat,
    Jt808Decoder,
    Jt808Frame,
    Jt808FrameSplitter,
    Jt808Packet,
    Location,
    LocationBatch,
    LocationQueryResponse,
    Logout,
    MultimediaData,
    MultimediaEvent,
    Register,
    SnapResponse,
    SubPackage,
    TerminalResponse,
    UnknownMessage,
    parse_header,
    positions,
)
from trackstream_protocols.jt808.framing import unescape


def decode(frame: str, decoder: Jt808Decoder | None = None) -> Jt808Packet:
    """Wire hex -> splitter -> decoder; every position is checked for plausibility."""
    frames = Jt808FrameSplitter(keep_bad_checksum=True).feed(F.raw(frame))
    assert len(frames) == 1
    packet = (decoder or Jt808Decoder()).decode(frames[0])
    for fix in positions(packet.message):
        verify_position(fix)
    return packet


def location(frame: str, decoder: Jt808Decoder | None = None) -> Location:
    message = decode(frame, decoder).message
    assert isinstance(message, Location)
    return message


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- header --------------------------------------------------------------------------------------


def test_2013_header_fields() -> None:
    header, body = parse_header(unescape(F.raw(F.LOCATION_FUEL_SPEED)[1:-1])[:-1])
    assert header.msg_id == 0x0200
    assert header.edition == "2013" and header.protocol_version is None
    assert header.phone == "013833501744"
    assert header.serial == 0x0019
    assert header.body_length == len(body) == 42
    assert header.encryption == 0 and not header.is_subpackage
    assert header.size == 12


def test_2019_header_fields() -> None:
    packet = decode(F.REGISTER_2019)
    header = packet.header
    assert header.edition == "2019" and header.version_flag
    assert header.protocol_version == 1
    assert header.phone == "00000866496077582164"
    assert header.serial == 0x5218
    assert header.size == 17
    assert header.address.is_2019 and header.address.phone_bcd == header.phone_bcd


def test_version_bit_with_a_2013_header_is_read_as_2013() -> None:
    packet = decode(F.AUTH_VERSION_BIT_2013_HEADER)
    assert packet.header.version_flag and packet.header.edition == "2013"
    assert packet.header.phone == "010030000681"
    assert packet.message == Authenticate("J10030000681")


def test_sub_package_header_fields() -> None:
    first = F.demo5_jpeg_packages()[0]
    packet = decode(first)
    header = packet.header
    assert header.is_subpackage and header.packet_total == 10 and header.packet_index == 1
    assert header.serial == 0x2031 and header.size == 16
    assert isinstance(packet.message, SubPackage)
    assert packet.message.total == 10 and len(packet.message.data) == 804
    assert not packet.checksum_ok  # see jt808_frames: the phone was edited after capture


def test_non_bcd_phone_gives_traccar_style_imei() -> None:
    header = decode(F.AUTH_NON_BCD_PHONE).header
    assert header.phone == "4f07788ef676"
    assert header.terminal_id == "868935060005020"  # 0x4F07788EF676 + Luhn digit
    assert decode(F.AUTH_2013).header.terminal_id == "013511221122"


def test_bad_sub_package_index_is_a_protocol_error() -> None:
    content = bytes.fromhex("08012000013812345678203100020003")
    with pytest.raises(ProtocolError, match="index 3 of 2"):
        parse_header(content)


@pytest.mark.parametrize("size", [0, 5, 11])
def test_truncated_header_is_a_protocol_error(size: int) -> None:
    with pytest.raises(ProtocolError, match="header"):
        parse_header(bytes(size))


def test_truncated_2019_header_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="2019 header"):
        parse_header(bytes.fromhex("0002400001000000000001391234"))


# --- body length ---------------------------------------------------------------------------------


def test_wrong_body_length_is_rejected_by_default() -> None:
    with pytest.raises(ProtocolError, match="body length 50 declared, 40 present"):
        decode(F.LOCATION_2014_BAD)


def test_wrong_body_length_decodes_when_lenient() -> None:
    packet = decode(F.LOCATION_2014_BAD, Jt808Decoder(strict_body_length=False))
    assert not packet.checksum_ok
    assert isinstance(packet.message, Location)
    fix = packet.message.fix
    assert fix.fix_time == at(2014, 7, 23, 9, 20, 15)
    assert (fix.latitude, fix.longitude) == (22.51488, 113.916508)
    assert fix.satellites == 11 and fix.attributes["rssi"] == 22


# --- 0x0001 / 0x0002 / 0x0003 --------------------------------------------------------------------


def test_terminal_general_response_from_a_bsj_km02() -> None:
    packet = decode(F.TERMINAL_RESPONSE_BSJ)
    assert packet.message == TerminalResponse(reply_serial=0, reply_msg_id=0x8105, result=0)
    assert packet.header.serial == 0x32
    assert decode(F.TERMINAL_RESPONSE_BSJ_2).header.serial == 0x33


def test_terminal_general_response_with_unsupported_result() -> None:
    assert decode(F.TERMINAL_RESPONSE_GO).message == TerminalResponse(123, 456, 3)


@pytest.mark.parametrize("frame", [F.HEARTBEAT, F.HEARTBEAT_BSJ, F.HEARTBEAT_2019])
def test_heartbeat(frame: str) -> None:
    assert decode(frame).message == Heartbeat()


def test_logout() -> None:
    packet = decode(F.LOGOUT)
    assert packet.message == Logout()
    assert packet.header.phone == "013412345678"


# --- 0x0100 register -----------------------------------------------------------------------------


def test_register_2013_with_gbk_plate() -> None:
    message = decode(F.REGISTER_2013).message
    assert message == Register(44, 303, "70111", "BSJ-A6-BD", "0567872", 1, "粤B88888")
    other = decode(F.REGISTER_2013_HB).message
    assert isinstance(other, Register)
    assert other.terminal_model == "HB-R03GBD" and other.plate == "苏BA6860"


def test_register_2011_layout() -> None:
    message = decode(F.REGISTER_2011).message
    assert isinstance(message, Register)
    assert (message.province_id, message.city_id, message.plate_color) == (0, 0, 0)
    assert message.manufacturer_id == message.terminal_model == message.plate == ""


def test_register_2019() -> None:
    message = decode(F.REGISTER_2019).message
    assert message == Register(0, 0, "", "MD300", "866496077582164", 4, "")
    library = decode(F.REGISTER_2019_GO).message
    assert library == Register(31, 115, "cd", "www.808.com", "7654321", 1, "测A1234")


def test_truncated_register_is_a_protocol_error() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.REGISTER_2013))
    header, body = parse_header(frame.content)
    with pytest.raises(ProtocolError, match="0x0100 register"):
        Jt808Decoder().decode_body(header, body[:20])


# --- 0x0102 authenticate -------------------------------------------------------------------------


def test_authenticate_2013() -> None:
    assert decode(F.AUTH_2013).message == Authenticate("authentication")
    assert decode(F.AUTH_2013_BSJ).message == Authenticate("authentication")
    assert decode(F.AUTH_NON_BCD_PHONE).message == Authenticate("ODY4OTM1MDYwMDA1MDIwbmV3U25SdWxl")


def test_authenticate_2019_layout() -> None:
    packet = decode(F.AUTH_2019)
    assert packet.header.edition == "2019"
    assert packet.message == Authenticate("17299841738", "123456789012345", "3.7.15")


# --- 0x0200 location -----------------------------------------------------------------------------


def test_location_basic_block_and_standard_items() -> None:
    loc = location(F.LOCATION_FUEL_SPEED)
    fix = loc.fix
    assert fix.fix_time == at(2015, 8, 17, 23, 21, 21)  # 2015-08-18 07:21:21 GMT+8
    assert (fix.latitude, fix.longitude) == (22.6426, 114.032984)
    assert fix.altitude_m == 128.0 and fix.speed_kmh == 0.0 and fix.course_deg == 8.0
    assert fix.valid and fix.attributes["ignition"] is False
    assert fix.attributes["odometer"] == 75700  # 757 x 0.1 km
    assert fix.attributes["fuel"] == 0.0 and fix.attributes["obdSpeed"] == 0.0
    assert loc.status_flags == 0xC2 and loc.alarm_flags == 0
    assert [i.id for i in loc.extras] == [0x01, 0x02, 0x03] and loc.unknown == ()


def test_location_south_with_io_status_rssi_and_satellites() -> None:
    fix = location(F.LOCATION_2A).fix
    assert fix.latitude == -6.152508 and fix.longitude == 106.720475
    assert fix.altitude_m == 22.0 and fix.speed_kmh == 0.0
    assert fix.satellites == 4 and fix.attributes["sat"] == 4
    assert fix.attributes["rssi"] == 27 and fix.attributes["ioStatus"] == 0
    assert fix.attributes["ignition"] is True


def test_location_analog_item_and_unknown_vendor_item_kept_raw() -> None:
    loc = location(F.LOCATION_2B)
    assert loc.fix.attributes["adc1"] == 0x0000 and loc.fix.attributes["adc2"] == 0xAB56
    assert [(i.id, i.value) for i in loc.unknown] == [(0xE1, b"\x00\x72")]


def test_location_alarm_bit_and_west_hemisphere() -> None:
    loc = location(F.LOCATION_SOS_WEST)
    assert loc.fix.attributes["alarm"] == "sos"
    assert loc.fix.longitude == -1.255923 and loc.fix.latitude == 50.871735
    assert [i.id for i in loc.unknown] == [0x36]


def test_location_2019_header_and_alarm_names() -> None:
    packet = decode(F.LOCATION_2019)
    assert packet.header.edition == "2019"
    assert isinstance(packet.message, Location)
    fix = packet.message.fix
    assert packet.message.alarm_flags == 0x6F
    assert fix.attributes["alarm"] == "sos,overspeed,fatigueDriving,gpsAntennaCut"
    assert fix.latitude == -31.234567  # status 0x16: south
    assert fix.speed_kmh == 6.6 and fix.altitude_m == 123.0
    assert fix.attributes["fuel"] == 10.0 and fix.attributes["odometer"] == 1200


def test_blocked_from_oil_circuit_bit() -> None:
    loc = location(F.LOCATION_VENDOR_TAIL)
    assert loc.fix.attributes["blocked"] is True
    assert loc.status_flags & 0x400


def test_device_time_zone_is_a_decoder_parameter() -> None:
    utc_device = Jt808Decoder(device_tz=timezone.utc)  # noqa: UP017
    fix = location(F.LOCATION_FUEL_SPEED, utc_device).fix
    assert fix.fix_time == at(2015, 8, 18, 7, 21, 21)
    moscow = Jt808Decoder(device_tz=timezone(timedelta(hours=3)))
    assert location(F.LOCATION_FUEL_SPEED, moscow).fix.fix_time == at(2015, 8, 18, 4, 21, 21)


def test_vendor_tail_is_kept_by_default_and_refused_when_strict() -> None:
    loc = location(F.LOCATION_VENDOR_TAIL)
    assert loc.trailing == bytes.fromhex("00780000000018000000")
    assert loc.fix.fix_time == at(2020, 11, 2, 19, 17, 33)
    with pytest.raises(ProtocolError, match="truncated additional item"):
        decode(F.LOCATION_VENDOR_TAIL, Jt808Decoder(strict_additional_items=True))


def test_truncated_basic_block_is_a_protocol_error() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.LOCATION_FUEL_SPEED))
    header, body = parse_header(frame.content)
    for size in (0, 3, 27):
        with pytest.raises(ProtocolError, match="0x0200 location"):
            Jt808Decoder().decode_body(header, body[:size])


def test_impossible_time_is_a_protocol_error() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.LOCATION_FUEL_SPEED))
    header, body = parse_header(frame.content)
    bad = body[:22] + bytes.fromhex("151332") + body[25:]  # month 13
    with pytest.raises(ProtocolError, match="not a valid date"):
        Jt808Decoder().decode_body(header, bad)


# --- Jimi 0xEB and 0xE8 --------------------------------------------------------------------------


def test_jimi_eb_battery_and_iccid() -> None:
    fix = location(F.LOCATION_EB_BATTERY).fix
    assert fix.attributes["batteryLevel"] == 76
    assert fix.attributes["battery"] == 3.918
    assert fix.attributes["iccid"] == "89860499102190207874"
    assert "alarm" not in fix.attributes


def test_jimi_eb_active_low_alarms() -> None:
    assert location(F.LOCATION_EB_REMOVING).fix.attributes["alarm"] == "removing"
    assert location(F.LOCATION_EB_VIBRATION).fix.attributes["alarm"] == "vibration"
    both = location(F.LOCATION_LOW_BATTERY_REMOVING).fix.attributes
    assert both["alarm"] == "lowBattery,removing"  # alarm DWORD bit 7, then 0xEB 0x0089


def test_jimi_eb_power_and_imei() -> None:
    fix = location(F.LOCATION_EB_POWER).fix
    assert fix.attributes["power"] == 11.7
    assert fix.attributes["imei"] == "000000000000000"
    assert fix.attributes["alarm"] == "powerOff"


def test_jimi_items_are_kept_raw_when_disabled() -> None:
    loc = location(F.LOCATION_EB_BATTERY, Jt808Decoder(jimi_extensions=False))
    assert "batteryLevel" not in loc.fix.attributes
    assert [i.id for i in loc.unknown] == [0xEB]


def test_rtvs_dashcam_location() -> None:
    fix = location(F.LOCATION_RTVS).fix
    assert fix.attributes["videoAlarm"] == 4
    assert fix.attributes["imei"] == "864573068669507"
    assert fix.attributes["iccid"] == "8991102305828928061"
    assert fix.satellites == 13


def jc371(frame: str) -> Location:
    """JC371 frames are in Traccar's test un-escaped: decode the raw bytes, as Traccar does."""
    packet = Jt808Decoder().decode(Jt808Frame.from_unescaped(F.inner(frame)))
    assert isinstance(packet.message, Location)
    verify_position(packet.message.fix)
    return packet.message


def test_jimi_e8_status_2003() -> None:
    fix = jc371(F.JC371_BATTERY).fix
    assert fix.latitude == 22.576385 and fix.longitude == 114.032486
    assert fix.attributes["battery"] == 4.15
    assert fix.attributes["charge"] is True and fix.attributes["batteryLevel"] == 83
    assert fix.attributes["power"] == 4.0 and fix.attributes["rssi"] == 3


@pytest.mark.parametrize(
    ("frame", "alarm"), [(F.JC371_SOS, "sos"), (F.JC371_VIBRATION, "vibration")]
)
def test_jimi_e8_extended_alarms(frame: str, alarm: str) -> None:
    assert jc371(frame).fix.attributes["alarm"] == alarm


def test_jimi_e8_status_items_2005_and_eb_time_zone() -> None:
    loc = jc371(F.JC371_ALARM_LABEL)
    attrs = loc.fix.attributes
    assert attrs["timezone"] == "UTC-04:00"
    assert attrs["power"] == 14.0 and attrs["hdop"] == 0.6
    assert attrs["videoAlarm"] == 1
    assert 0x64 in [i.id for i in loc.unknown]  # ADAS alarm item, not decoded


# --- 0x0201 / 0x0704 -----------------------------------------------------------------------------


def test_location_query_response() -> None:
    message = decode(F.LOCATION_QUERY_RESPONSE_BSJ).message
    assert isinstance(message, LocationQueryResponse)
    assert message.reply_serial == 0
    assert message.location.fix.attributes["iccid"] == "89950624120357960329"


def test_batch_blind_area_marks_archive() -> None:
    message = decode(F.BATCH_BLIND_SAT14).message
    assert isinstance(message, LocationBatch)
    assert message.archive and message.batch_type == 1
    (loc,) = message.locations
    assert loc.fix.satellites == 14 and loc.fix.attributes["archive"] is True
    assert loc.fix.attributes["alarm"] == "powerOff,lowBattery"


def test_batch_blind_area_2019() -> None:
    packet = decode(F.BATCH_BLIND_2019)
    assert packet.header.edition == "2019"
    assert isinstance(packet.message, LocationBatch)
    (loc,) = packet.message.locations
    assert loc.fix.satellites == 14
    assert loc.fix.latitude == -27.263378 and loc.fix.longitude == 153.037383


def test_batch_of_eight() -> None:
    message = decode(F.BATCH_BLIND_8).message
    assert isinstance(message, LocationBatch)
    fixes = positions(message)
    assert len(fixes) == 8
    assert [f.fix_time for f in fixes] == sorted(f.fix_time for f in fixes)
    assert all(f.attributes["archive"] is True for f in fixes)


def test_batch_normal_has_no_archive() -> None:
    message = decode(F.BATCH_NORMAL_2019).message
    assert isinstance(message, LocationBatch)
    assert not message.archive and len(message.locations) == 2
    assert all("archive" not in f.attributes for f in positions(message))
    assert [loc.fix.altitude_m for loc in message.locations] == [666.0, 777.0]


def test_truncated_batch_is_a_protocol_error() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.BATCH_BLIND_8))
    header, body = parse_header(frame.content)
    with pytest.raises(ProtocolError, match="0x0704 batch"):
        Jt808Decoder().decode_body(header, body[:-20])


# --- 0x0800 / 0x0801 / 0x0805 --------------------------------------------------------------------


def test_multimedia_event() -> None:
    assert decode(F.MULTIMEDIA_EVENT_2013).message == MultimediaEvent(123, 0, 0, 7, 1)
    packet = decode(F.MULTIMEDIA_EVENT_2019)
    assert packet.header.edition == "2019"
    assert packet.message == MultimediaEvent(111, 0, 0, 7, 123)


def test_multimedia_data_single_package() -> None:
    message = decode(F.MULTIMEDIA_DATA_2019).message
    assert isinstance(message, MultimediaData)
    assert (message.media_id, message.media_type, message.media_format) == (111, 0, 0)
    assert (message.event, message.channel) == (7, 123)
    assert message.data == bytes([1, 2, 3, 4, 5])
    verify_position(message.location.fix)
    assert message.location.fix.fix_time == at(2014, 10, 21, 11, 51, 9)
    assert positions(message) == ()


def test_truncated_multimedia_data_is_a_protocol_error() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.MULTIMEDIA_DATA_2019))
    header, body = parse_header(frame.content)
    with pytest.raises(ProtocolError, match="0x0801"):
        Jt808Decoder().decode_body(header, body[:20])


def test_snap_response() -> None:
    assert decode(F.SNAP_RESPONSE_2019).message == SnapResponse(111, 0, (1, 2))
    message = decode(F.SNAP_RESPONSE_2013).message
    assert message == SnapResponse(0xF4C0, 0, tuple(range(1, 10)))


def test_snap_response_failure_has_no_ids_and_truncated_ids_raise() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.SNAP_RESPONSE_2019))
    header, body = parse_header(frame.content)
    assert Jt808Decoder().decode_body(header, bytes.fromhex("006f01")) == SnapResponse(111, 1)
    with pytest.raises(ProtocolError, match="0x0805"):
        Jt808Decoder().decode_body(header, body[:-2])


# --- unknown and encrypted -----------------------------------------------------------------------


def test_unknown_message_is_kept_raw() -> None:
    packet = decode(F.GENERAL_RESPONSE_BSJ)  # a downlink id, not decoded as an uplink
    assert packet.message == UnknownMessage(0x8001, bytes.fromhex("0001010200"))


def test_encrypted_body_is_not_decoded() -> None:
    frame = Jt808Frame.from_wire(F.raw(F.LOCATION_FUEL_SPEED))
    header, body = parse_header(frame.content)
    encrypted = frame.content[:2] + bytes([frame.content[2] | 0x04]) + frame.content[3:]
    enc_header, enc_body = parse_header(encrypted)
    assert enc_header.encryption == 1
    assert Jt808Decoder().decode_body(enc_header, enc_body) == UnknownMessage(0x0200, body)
    assert header.encryption == 0
