"""GT06 decoder against real device frames; every decoded position goes through verify_position."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from libs.protocols.tests.plausibility import verify_attributes, verify_position
from trackstream_protocols.errors import ChecksumError, ProtocolError
from trackstream_protocols.gt06 import (
    DECODED_PROTOCOLS,
    Gt06Alarm,
    Gt06CellReport,
    Gt06DashcamAlarm,
    Gt06Frame,
    Gt06Heartbeat,
    Gt06Info,
    Gt06Location,
    Gt06Login,
    Gt06Message,
    Gt06TextReply,
    Gt06TimeRequest,
    Gt06WifiReport,
    UnknownMessage,
    decode,
    encode_frame,
    parse_frame,
)
from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower, WifiAccessPoint


def decoded(hex_frame: str, **options: object) -> Gt06Message:
    message = decode(parse_frame(frame_bytes(hex_frame)), **options)  # type: ignore[arg-type]
    for fix in _fixes(message):
        verify_position(fix)
    attributes = getattr(message, "attributes", None)
    if attributes is not None:
        verify_attributes(attributes)
    return message


def _fixes(message: Gt06Message) -> list[Fix]:
    fix = getattr(message, "fix", None)
    return [fix] if isinstance(fix, Fix) else []


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def location(hex_frame: str, **options: object) -> tuple[Gt06Location, Fix]:
    message = decoded(hex_frame, **options)
    assert isinstance(message, Gt06Location)
    assert message.fix is not None
    return message, message.fix


# --- every real frame ---------------------------------------------------------------------------


@pytest.mark.parametrize("hex_frame", [h for h in F.ALL if h != F.GPS_LBS_12_EMPTY])
def test_every_real_frame_decodes_and_its_positions_are_plausible(hex_frame: str) -> None:
    message = decoded(hex_frame)
    frame = parse_frame(frame_bytes(hex_frame))
    assert message.protocol == frame.protocol
    assert message.serial == frame.serial
    if frame.protocol in DECODED_PROTOCOLS and frame.protocol not in (0x80, 0x17, 0x69):
        assert not isinstance(message, UnknownMessage), hex_frame


# --- login 0x01 ---------------------------------------------------------------------------------


def test_login_with_imei_only() -> None:
    message = decoded(F.LOGIN_SHORT)
    assert message == Gt06Login(protocol=0x01, serial=9, imei="864717003283581")


def test_login_with_type_and_western_timezone() -> None:
    message = decoded(F.LOGIN_TZ_WEST4)
    assert isinstance(message, Gt06Login)
    assert message.imei == "864717003664467"
    assert message.type_id == 0x100F
    assert message.timezone == timezone(timedelta(hours=-4))
    assert message.language == 2
    assert message.serial == 2


def test_login_with_utc_timezone_word() -> None:
    message = decoded(F.LOGIN_TZ_ZERO)
    assert isinstance(message, Gt06Login)
    assert (message.imei, message.type_id) == ("863586038760942", 0xA001)
    assert message.timezone == UTC


def test_login_from_a_device_log() -> None:
    message = decoded(F.LOGIN_5361)
    assert isinstance(message, Gt06Login)
    assert (message.imei, message.serial) == ("860470067873061", 0x05D4)


def test_login_timezone_word_out_of_range_gives_no_timezone() -> None:
    content = bytes.fromhex("0864717003664467100f") + (4095 << 4).to_bytes(2, "big")  # 40:95
    frame = parse_frame(encode_frame(0x01, content, serial=1))
    message = decode(frame)
    assert isinstance(message, Gt06Login)
    assert message.timezone is None and message.timezone_word == 0xFFF0


def test_login_with_a_non_bcd_imei_is_refused_without_echoing_it() -> None:
    frame = parse_frame(encode_frame(0x01, bytes.fromhex("0864717003664a67"), serial=1))
    with pytest.raises(ProtocolError, match="IMEI is not BCD") as caught:
        decode(frame)
    assert "0864717003664a67" not in str(caught.value)


def test_bad_crc_frames_decode_by_default_and_raise_when_crc_is_required() -> None:
    frame = parse_frame(frame_bytes(F.LOGIN_TZ_EAST8_BAD_CRC))
    assert frame.crc_ok is False
    message = decode(frame)
    assert isinstance(message, Gt06Login)
    assert message.imei == "123456789012345"
    assert message.timezone == timezone(timedelta(hours=8))
    with pytest.raises(ChecksumError, match="bad CRC"):
        decode(frame, require_crc=True)
    # good and CRC-less frames still decode with require_crc
    assert isinstance(decode(parse_frame(frame_bytes(F.LOGIN_5361)), require_crc=True), Gt06Login)
    wifi = parse_frame(frame_bytes(F.WIFI_69_NO_AP))
    assert isinstance(decode(wifi, require_crc=True), Gt06WifiReport)


# --- GPS and GPS+LBS ----------------------------------------------------------------------------


def test_gps_lbs_12_matches_traccars_expected_position() -> None:
    # Traccar's test: position("2015-10-20 14:21:11.000", true, 54.94535, 24.01762)
    message, fix = location(F.GPS_LBS_12_LITHUANIA)
    assert fix.fix_time == utc(2015, 10, 20, 14, 21, 11)
    assert fix.valid is True
    assert fix.latitude == pytest.approx(54.94535, abs=1e-5)
    assert fix.longitude == pytest.approx(24.01762, abs=1e-5)
    assert message.cell == CellTower(mcc=246, mnc=1, lac=110, cid=21978)


def test_gps_lbs_12_matches_the_position_traccar_logged() -> None:
    # traccar#171 log: time Mon Mar 18 03:47:52 CET 2013, latitude 33.91818833333333,
    # longitude -6.89339, course 171.0
    _, fix = location(F.GPS_LBS_12_MOROCCO_171)
    assert fix.fix_time == utc(2013, 3, 18, 2, 47, 52)
    assert fix.latitude == pytest.approx(33.91818833333333)
    assert fix.longitude == pytest.approx(-6.89339)
    assert fix.course_deg == 171.0
    assert fix.speed_kmh == 3.0


def test_gps_lbs_12_south_and_west_hemispheres_from_a_device_log() -> None:
    # traccar#2876 log: lat -2.27535, lon -79.88932 at 16:25:33 local (UTC-5)
    _, fix = location(F.GPS_LBS_12_ECUADOR_2876)
    assert fix.latitude == pytest.approx(-2.27535, abs=1e-5)
    assert fix.longitude == pytest.approx(-79.88932, abs=1e-5)
    assert fix.fix_time == utc(2017, 2, 6, 21, 25, 33)


def test_gps_lbs_12_acc_bit_and_odometer() -> None:
    message, fix = location(F.GPS_LBS_12_ODOMETER)
    assert fix.speed_kmh == 32.0 and fix.course_deg == 258.0
    assert message.attributes == {"ignition": True, "odometer": 4320784}
    assert fix.attributes == message.attributes
    _, fix = location(F.GPS_LBS_12_ACC)
    assert fix.attributes["ignition"] is True


def test_gps_only_0x10() -> None:
    message, fix = location(F.GPS_10)
    assert message.cell is None
    assert fix.fix_time == utc(2011, 3, 26, 11, 27, 49)
    assert (fix.satellites, fix.speed_kmh, fix.course_deg) == (12, 1.0, 289.0)
    assert fix.latitude == pytest.approx(23.111678, abs=1e-6)
    assert fix.longitude == pytest.approx(114.409208, abs=1e-6)
    _, fix = location(F.GPS_10_SOUTH_WEST)
    assert fix.latitude == pytest.approx(-34.304377, abs=1e-6)
    assert fix.longitude == pytest.approx(-58.975278, abs=1e-6)


def test_gps_lbs_11_has_a_two_byte_mnc_and_four_byte_cell_id() -> None:
    message, fix = location(F.GPS_LBS_11)
    assert message.cell == CellTower(mcc=302, mnc=720, lac=30175, cid=8685836)
    assert fix.latitude == pytest.approx(43.970484, abs=1e-6)
    assert fix.longitude == pytest.approx(-79.263956, abs=1e-6)


def test_gps_lbs_22_with_upload_trailer() -> None:
    message, fix = location(F.GPS_LBS_22)
    assert fix.fix_time == utc(2015, 12, 29, 2, 51, 5)
    assert (fix.valid, fix.satellites, fix.speed_kmh) == (True, 9, 0.0)
    assert fix.latitude == pytest.approx(23.111693, abs=1e-6)
    assert fix.longitude == pytest.approx(114.409298, abs=1e-6)
    assert message.cell == CellTower(mcc=460, mnc=0, lac=10365, cid=8049)
    assert message.attributes == {"ignition": False, "event": 0, "archive": True}


def test_gps_lbs_22_without_a_fix_is_flagged_invalid() -> None:
    message, fix = location(F.GPS_LBS_22_NO_FIX)
    assert fix.valid is False
    assert (fix.latitude, fix.longitude) == (0.0, 0.0)
    assert message.cell == CellTower(mcc=310, mnc=260, lac=52106, cid=48883)


def test_device_timezone_is_applied_to_device_time() -> None:
    _, fix = location(F.GPS_LBS_22, tz=timezone(timedelta(hours=8)))
    assert fix.fix_time == utc(2015, 12, 28, 18, 51, 5)
    assert fix.fix_time.tzinfo is UTC
    _, fix = location(F.GPS_LBS_22, tz=timezone(timedelta(hours=-4)))
    assert fix.fix_time == utc(2015, 12, 29, 6, 51, 5)


def test_gps_lbs_37_reads_its_modules() -> None:
    message, fix = location(F.GPS_LBS_37)
    assert fix.latitude == pytest.approx(-6.135882, abs=1e-6)
    assert fix.longitude == pytest.approx(106.79224, abs=1e-6)
    assert message.cell == CellTower(mcc=510, mnc=10, lac=1514, cid=20251)
    assert message.attributes["odometer"] == 9000
    assert message.attributes["accuracy"] == pytest.approx(60.8)


def test_gps_lbs_a0_4g_cell() -> None:
    message, fix = location(F.GPS_LBS_A0_NEPAL)
    assert fix.fix_time == utc(2025, 6, 3, 17, 39, 11)
    assert fix.latitude == pytest.approx(27.682089, abs=1e-6)
    assert fix.longitude == pytest.approx(85.336213, abs=1e-6)
    assert (fix.speed_kmh, fix.satellites) == (7.0, 7)
    assert message.cell == CellTower(mcc=429, mnc=1, lac=10412, cid=328451)
    assert message.attributes == {"ignition": False, "event": 8, "archive": True, "odometer": 7902}
    message, fix = location(F.GPS_LBS_A0_PERU)
    assert message.cell == CellTower(mcc=460, mnc=0, lac=50701, cid=47081706)
    assert fix.attributes["ignition"] is True


@pytest.mark.parametrize("protocol", [0x2D, 0x31])
def test_gps_lbs_2d_and_31_share_the_0x22_layout(protocol: int) -> None:
    # no public frame found: the real 0x22 content re-framed under the other protocol number
    content = parse_frame(frame_bytes(F.GPS_LBS_22)).content
    frame = parse_frame(encode_frame(protocol, content, serial=0x42))
    message = decode(frame)
    assert isinstance(message, Gt06Location) and message.fix is not None
    expected = decoded(F.GPS_LBS_22)
    assert isinstance(expected, Gt06Location)
    assert expected.fix is not None
    assert replace(message.fix, attributes={}) == replace(expected.fix, attributes={})
    assert message.cell == expected.cell
    # 0x2D carries the ACC / upload-mode / re-upload trailer like 0x22; 0x31 (AZ735) does not
    assert (message.attributes == expected.attributes) is (protocol == 0x2D)
    verify_position(message.fix)


def test_zeroed_date_gives_a_message_without_fix() -> None:
    content = bytes(6) + b"\xc0" + bytes(11) + bytes.fromhex("01cc00287d001f71")
    message = decode(parse_frame(encode_frame(0x12, content, serial=1)))
    assert isinstance(message, Gt06Location)
    assert message.fix is None
    assert message.cell == CellTower(mcc=460, mnc=0, lac=10365, cid=8049)


# --- status / heartbeat -------------------------------------------------------------------------


def test_status_0x13() -> None:
    message = decoded(F.STATUS_13)
    assert message == Gt06Heartbeat(
        protocol=0x13,
        serial=0x0129,
        attributes={
            "status": 0xC4,
            "ignition": False,
            "charge": True,
            "blocked": True,
            "batteryLevel": 100,
            "rssi": 4,
        },
    )


def test_status_0x13_from_device_logs() -> None:
    message = decoded(F.STATUS_13_608)
    assert isinstance(message, Gt06Heartbeat)
    assert message.attributes["batteryLevel"] == 100 and message.attributes["ignition"] is False
    message = decoded(F.STATUS_13_SHORT_LENGTH)
    assert isinstance(message, Gt06Heartbeat)
    assert message.serial == 0x044D
    assert message.attributes["ignition"] is True and message.attributes["rssi"] == 2


def test_status_voltage_levels_scale_to_percent() -> None:
    for level, percent in ((0, 0), (3, 50), (4, 66), (6, 100), (85, 85)):
        content = bytes([0x00, level, 0x04, 0x00, 0x02])
        message = decode(parse_frame(encode_frame(0x13, content, serial=1)))
        assert isinstance(message, Gt06Heartbeat)
        assert message.attributes["batteryLevel"] == percent
    content = bytes([0x00, 146, 0x05, 0x00, 0x02])  # out of range: left out
    message = decode(parse_frame(encode_frame(0x13, content, serial=1)))
    assert isinstance(message, Gt06Heartbeat)
    assert "batteryLevel" not in message.attributes


def test_status_alarm_bits_and_alarm_code() -> None:
    content = bytes([0b1010_0010, 6, 4, 0x01, 0x02])  # bits 3-5 = 100 (sos), code 0x01 (sos)
    message = decode(parse_frame(encode_frame(0x13, content, serial=1)))
    assert isinstance(message, Gt06Heartbeat)
    assert message.attributes["alarm"] == "sos"
    assert message.attributes["ignition"] is True and message.attributes["blocked"] is True


def test_long_status_0x13_variant() -> None:
    message = decoded(F.STATUS_13_LONG)
    assert isinstance(message, Gt06Heartbeat)
    assert message.attributes["batteryLevel"] == 6  # already a percentage here (Traccar: 6)
    assert message.attributes["temp1"] == pytest.approx(-4.3)


def test_heartbeat_0x23_gk310() -> None:
    message = decoded(F.HEARTBEAT_23)
    assert isinstance(message, Gt06Heartbeat)
    assert message.attributes == {
        "status": 0xC0,
        "armed": False,
        "ignition": False,
        "charge": False,
        "battery": pytest.approx(2.90),
        "rssi": 4,
    }


# --- alarm packets ------------------------------------------------------------------------------


def alarm(hex_frame: str) -> tuple[Gt06Alarm, Fix]:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06Alarm)
    assert message.fix is not None
    assert message.fix.attributes == message.attributes
    return message, message.fix


def test_alarm_16_removing_from_status_bits() -> None:
    message, fix = alarm(F.ALARM_16_REMOVING)  # Traccar expects ALARM_REMOVING
    assert message.alarm == "removing" and message.alarm_code == 0
    assert message.attributes["batteryLevel"] == 85
    assert fix.fix_time == utc(2019, 2, 12, 18, 20, 26)


def test_alarm_16_with_zeroed_lbs_block() -> None:
    message, _ = alarm(F.ALARM_16_ZEROED_LBS)  # Traccar expects batteryLevel 100
    assert message.cell is None
    assert message.attributes["batteryLevel"] == 100
    assert message.attributes["rssi"] == 27
    assert message.alarm == "vibration,removing"


@pytest.mark.parametrize(
    ("hex_frame", "expected", "code"),
    [
        (F.ALARM_16_OVERSPEED, "overspeed", 0x06),
        (F.ALARM_16_VIBRATION, "vibration", 0x03),
        (F.ALARM_16_POWER_CUT, "powerCut", 0x02),
        (F.ALARM_16_LOW_BATTERY_171, "lowBattery", 0x00),
        (F.ALARM_26_VIBRATION, "vibration", 0x03),
        (F.ALARM_27_TAMPERING, "tampering", 0x0C),
        (F.ALARM_A4_POWER_OFF, "powerOff", 0x11),
    ],
)
def test_alarm_codes_map_to_traccar_names(hex_frame: str, expected: str, code: int) -> None:
    message, fix = alarm(hex_frame)
    assert message.alarm == expected
    assert message.alarm_code == code
    assert fix.attributes["alarm"] == expected


def test_alarm_16_overspeed_details() -> None:
    message, fix = alarm(F.ALARM_16_OVERSPEED)
    assert (fix.speed_kmh, fix.course_deg, fix.valid) == (88.0, 199.0, True)
    assert message.attributes["ignition"] is True
    assert message.cell == CellTower(mcc=404, mnc=70, lac=211, cid=49301)


def test_alarm_26_invalid_fix_and_acc_from_course_word() -> None:
    message, fix = alarm(F.ALARM_26_VIBRATION)
    assert fix.valid is False
    assert message.attributes["ignition"] is False
    assert message.attributes["charge"] is True
    assert message.cell == CellTower(mcc=460, mnc=0, lac=10342, cid=3822)


def test_alarm_27_geofence_and_wide_mnc() -> None:
    message, fix = alarm(F.ALARM_27_TAMPERING)
    assert message.geofence is None  # 0xFF: no fence
    assert message.cell == CellTower(mcc=310, mnc=260, lac=52106, cid=48883)
    assert fix.latitude == pytest.approx(40.196205, abs=1e-6)
    assert fix.longitude == pytest.approx(-74.14239, abs=1e-6)


def test_alarm_a4_4g_cell_and_12_bit_alarm_code() -> None:
    message, _ = alarm(F.ALARM_A4_POWER_OFF)
    assert message.cell == CellTower(mcc=460, mnc=1, lac=9742, cid=102103041)
    content = bytearray(parse_frame(frame_bytes(F.ALARM_A4_POWER_OFF)).content)
    content[-3], content[-2], content[-1] = 0x07, 0x12, 0x03  # code 0x107, fence 3
    edited = decode(parse_frame(encode_frame(0xA4, bytes(content), serial=1)))
    assert isinstance(edited, Gt06Alarm)
    assert (edited.alarm_code, edited.alarm, edited.geofence) == (0x107, "jamming", 3)


# --- LBS and Wi-Fi ------------------------------------------------------------------------------


def test_lbs_0x28_cells() -> None:
    message = decoded(F.LBS_28)
    assert isinstance(message, Gt06CellReport)
    assert message.device_time == utc(2016, 1, 13, 2, 2, 2)
    assert message.cell_towers == (
        CellTower(mcc=460, mnc=0, lac=10365, cid=8049, signal_strength=-62),
        CellTower(mcc=460, mnc=0, lac=10365, cid=8050, signal_strength=-49),
        CellTower(mcc=460, mnc=0, lac=10365, cid=7715, signal_strength=-45),
        CellTower(mcc=460, mnc=0, lac=10365, cid=8000, signal_strength=-24),
    )
    assert message.attributes == {"timingAdvance": 255}


def test_lbs_0x18_seven_cells_and_a_device_without_a_date() -> None:
    message = decoded(F.LBS_18)
    assert isinstance(message, Gt06CellReport)
    assert len(message.cell_towers) == 7
    assert message.cell_towers[0] == CellTower(
        mcc=405, mnc=39, lac=6020, cid=23222, signal_strength=-54
    )
    message = decoded(F.LBS_18_608)
    assert isinstance(message, Gt06CellReport)
    assert message.device_time is None
    assert len(message.cell_towers) == 5  # the last two of the seven slots are empty
    assert {(c.mcc, c.mnc) for c in message.cell_towers} == {(736, 3)}


def test_lbs_0x2e_shares_the_0x28_layout() -> None:
    edited, original = decoded(F.LBS_2E_BAD_CRC), decoded(F.LBS_28)
    assert isinstance(edited, Gt06CellReport) and isinstance(original, Gt06CellReport)
    assert edited.cell_towers == original.cell_towers


def test_lbs_wifi_0x2c() -> None:
    message = decoded(F.LBS_WIFI_2C)
    assert isinstance(message, Gt06WifiReport)
    assert message.device_time == utc(2017, 3, 11, 1, 28, 31)
    assert message.access_points == (WifiAccessPoint("00:18:01:eb:40:39", -56),)
    assert len(message.cell_towers) == 7
    assert message.cell_towers[0] == CellTower(
        mcc=310, mnc=4, lac=52106, cid=45431, signal_strength=-84
    )
    sparse = decoded(F.LBS_WIFI_2C_SPARSE)
    assert isinstance(sparse, Gt06WifiReport)
    assert len(sparse.cell_towers) == 5 and len(sparse.access_points) == 1


def test_uncounted_wifi_0x69() -> None:
    message = decoded(F.WIFI_69_THREE_APS)
    assert isinstance(message, Gt06WifiReport)
    assert message.serial is None
    assert message.device_time == utc(2016, 4, 13, 3, 18, 49)
    assert message.time_bcd == bytes.fromhex("160413031849")
    assert message.access_points == (
        WifiAccessPoint("14:75:90:5b:d3:0e", -37),
        WifiAccessPoint("00:1e:10:bb:f7:63", -93),
        WifiAccessPoint("14:75:90:06:e6:26", -86),
    )
    assert len(message.cell_towers) == 5
    assert message.cell_towers[0] == CellTower(
        mcc=460, mnc=0, lac=10342, cid=3873, signal_strength=-50
    )


@pytest.mark.parametrize(
    ("hex_frame", "aps", "cells", "mcc"),
    [
        (F.WIFI_69_NO_AP, 0, 3, 655),
        (F.WIFI_69_EIGHT_APS, 8, 6, 204),
        (F.WIFI_69_TWO_CELLS, 0, 2, 204),
        (F.WIFI_17_NO_AP, 0, 7, 655),
        (F.WIFI_17_EIGHT_APS, 8, 7, 204),
    ],
)
def test_uncounted_wifi_counts(hex_frame: str, aps: int, cells: int, mcc: int) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06WifiReport)
    assert len(message.access_points) == aps
    assert len(message.cell_towers) == cells
    assert {c.mcc for c in message.cell_towers} == {mcc}
    assert all(len(ap.mac_address) == 17 for ap in message.access_points)


# --- text replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_frame", "text"),
    [
        (F.STRING_15_CUT, "Cut off the fuel supply: Success!"),
        (F.STRING_15_RESTORE, "Restore fuel supply: Success!"),
        (F.STRING_15_ZERO_LENGTH, "DYD=Success!"),
        (F.STRING_21_UTF16, "Command error!"),
    ],
)
def test_command_replies(hex_frame: str, text: str) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06TextReply)
    assert message.text == text
    assert message.attributes == {"result": text}
    assert message.server_flag == 0 and message.fix is None


def test_iccid_reply_0x15() -> None:
    message = decoded(F.STRING_15_ICCID)
    assert isinstance(message, Gt06TextReply)
    assert message.attributes == {"iccid": "89882390000097302650"}


def test_position_reply_0x21_becomes_a_fix() -> None:
    message = decoded(F.STRING_21_POSITION)
    assert isinstance(message, Gt06TextReply)
    assert message.fix is not None
    assert message.fix.fix_time == utc(2017, 5, 26, 10, 27, 47)
    assert (message.fix.latitude, message.fix.longitude) == (54.739332, 25.27327)
    assert message.fix.course_deg == 126.53


def test_ascii_reply_0x21_with_bad_crc() -> None:
    message = decoded(F.STRING_21_STATUS_BAD_CRC)
    assert isinstance(message, Gt06TextReply)
    assert message.text.startswith("Battery:5.56V,NORMAL;")


# --- information 0x94 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_frame", "imei", "imsi", "iccid"),
    [
        (F.INFO_94_ICCID, "359857082366758", "520050218721401", "8966051912408052452"),
        (F.INFO_94_ICCID_2, "359857080539083", "706010490040278", "8950301217070401538"),
        # stored nibble-swapped ("98 06 ..."): 8960... is a Malaysian ICCID like the 502 IMSI
        (F.INFO_94_ICCID_SWAPPED, "351608082545729", "502194200448892", "8960191302978058275"),
    ],
)
def test_info_iccid(hex_frame: str, imei: str, imsi: str, iccid: str) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06Info)
    assert message.subtype == 0x0A
    assert message.attributes == {"imei": imei, "imsi": imsi, "iccid": iccid}


@pytest.mark.parametrize(
    ("hex_frame", "subtype", "volts"),
    [
        (F.INFO_94_VOLTAGE, 0x00, 2.37),
        (F.INFO_94_VOLTAGE_ZERO, 0x00, 0.0),
        (F.INFO_94_VOLTAGE_13V, 0x00, 13.05),
        (F.INFO_94_OLD_VOLTAGE, None, 12.59),
    ],
)
def test_info_external_voltage(hex_frame: str, subtype: int | None, volts: float) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06Info)
    assert message.subtype == subtype
    assert message.attributes == {"power": pytest.approx(volts)}


def test_info_door_and_rfid() -> None:
    door = decoded(F.INFO_94_DOOR)
    assert isinstance(door, Gt06Info)
    assert door.attributes == {"door": False, "io1": False}
    rfid = decoded(F.INFO_94_RFID)
    assert isinstance(rfid, Gt06Info)
    assert rfid.attributes == {"driverUniqueId": "4277efef"}


def test_info_unknown_subtype_keeps_raw_data() -> None:
    message = decode(parse_frame(encode_frame(0x94, b"\x09\x01\x02\x03", serial=1, extended=True)))
    assert isinstance(message, Gt06Info)
    assert (message.subtype, message.data, message.attributes) == (0x09, b"\x01\x02\x03", {})


# --- time request, dashcam alarm, unknown -------------------------------------------------------


def test_time_request() -> None:
    assert decoded(F.TIME_REQUEST_8A) == Gt06TimeRequest(protocol=0x8A, serial=6)


@pytest.mark.parametrize(
    ("hex_frame", "expected", "code"),
    [
        (F.DASHCAM_95_GENERAL, "general", 0x01),
        (F.DASHCAM_95_ACCELERATION, "hardAcceleration", 0x90),
        (F.DASHCAM_95_BRAKING_BAD_CRC, "hardBraking", 0x91),
    ],
)
def test_dashcam_short_alarm(hex_frame: str, expected: str, code: int) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06DashcamAlarm)
    assert (message.alarm, message.alarm_code, message.fix) == (expected, code, None)
    assert message.device_time is not None and message.device_time.year == 2019


@pytest.mark.parametrize(
    ("hex_frame", "expected", "files"),
    [
        (F.DASHCAM_95_JC400_BRAKING_BAD_CRC, "hardBraking", 2),
        (F.DASHCAM_95_JC400_SOS_BAD_CRC, "sos", 2),
        (F.DASHCAM_95_JC400_ACCIDENT_BAD_CRC, "accident", 1),
    ],
)
def test_dashcam_jc400_alarm_with_position_and_files(
    hex_frame: str, expected: str, files: int
) -> None:
    message = decoded(hex_frame)
    assert isinstance(message, Gt06DashcamAlarm)
    assert message.alarm == expected
    assert message.alarm_value == 0
    assert message.fix is not None
    assert (message.fix.latitude, message.fix.longitude) == (50.0, 19.0)
    assert len(message.event_files) == files
    assert all(
        name.startswith("EVENT_353376110023196_") and name.endswith(".mp4")
        for name in message.event_files
    )
    assert message.attributes["eventFiles"] == ",".join(message.event_files)


def test_unknown_protocol_is_kept_raw() -> None:
    frame = parse_frame(encode_frame(0x77, b"\x01\x02", serial=3))
    message = decode(frame)
    assert message == UnknownMessage(protocol=0x77, serial=3, content=b"\x01\x02", extended=False)


@pytest.mark.parametrize("hex_frame", [F.GPS_LBS_EXTEND_1E, F.LBS_24_WANWAY, F.LBS_STATUS_19])
def test_real_frames_of_types_without_a_decoder_are_unknown(hex_frame: str) -> None:
    frame = parse_frame(frame_bytes(hex_frame))
    message = decoded(hex_frame)
    assert isinstance(message, UnknownMessage)
    assert (message.content, message.serial, message.extended) == (
        frame.content,
        frame.serial,
        False,
    )


# --- malformed content --------------------------------------------------------------------------


def test_empty_gps_content_raises_a_clear_protocol_error() -> None:
    with pytest.raises(ProtocolError, match=r"0x12 content truncated: date/time needs 6 bytes"):
        decoded(F.GPS_LBS_12_EMPTY)


@pytest.mark.parametrize("hex_frame", [h for h in F.ALL if h != F.GPS_LBS_12_EMPTY])
def test_truncated_content_raises_only_protocol_errors(hex_frame: str) -> None:
    frame = parse_frame(frame_bytes(hex_frame))
    for cut in range(len(frame.content)):
        short = Gt06Frame(
            protocol=frame.protocol,
            content=frame.content[:cut],
            serial=frame.serial,
            extended=frame.extended,
            crc_ok=frame.crc_ok,
            raw=frame.raw,
        )
        try:
            decode(short)
        except ProtocolError as error:
            assert "0x" in str(error)


def test_truncated_gps_block_names_the_missing_field() -> None:
    content = parse_frame(frame_bytes(F.GPS_LBS_22)).content[:10]
    with pytest.raises(ProtocolError, match="latitude needs 4 bytes"):
        decode(parse_frame(encode_frame(0x22, content, serial=1)))


# --- the plausibility helper itself must be able to fail -----------------------------------------


def test_verify_position_rejects_implausible_fixes() -> None:
    _, good = location(F.GPS_LBS_22)
    now = utc(2024, 1, 1, 0, 0, 0)
    verify_position(good, now=now)
    bad_fixes = [
        replace(good, latitude=90.5),
        replace(good, longitude=-180.5),
        replace(good, fix_time=utc(1999, 12, 31, 23, 59, 59)),
        replace(good, fix_time=now + timedelta(hours=25, seconds=1)),
        replace(good, fix_time=datetime(2015, 1, 1)),  # naive on purpose
        replace(good, speed_kmh=1609.5),
        replace(good, speed_kmh=-1.0),
        replace(good, course_deg=361.0),
        replace(good, attributes={"alarm": "explosion"}),
        replace(good, attributes={"ignition": 1}),
        replace(good, attributes={"batteryLevel": 101}),
    ]
    for fix in bad_fixes:
        with pytest.raises(AssertionError):
            verify_position(fix, now=now)
