"""GT06 frames a device sends (device -> server). Pure: returns bytes, writes nothing.

The server side of this package decodes these; the device simulator and tests build them here.
Every builder frames its content with :func:`~trackstream_protocols.gt06.encoder.encode_frame`
(header, length, serial, CRC-16/X.25, ``0D 0A``). Layouts (protocols.md §4):

* 0x01 login: IMEI BCD[8] (15 digits behind a 0 filler nibble), type id WORD, timezone/language
  WORD (bits 15-4 the offset as decimal ``hhmm``, bit 3 west, bits 1-0 language: 1 Chinese,
  2 English).
* 0x22 GPS+LBS: GPS block (time YY MM DD hh mm ss in the device zone, GPS info BYTE = length
  nibble + satellites nibble, latitude and longitude DWORD in 1/30000 minute, speed BYTE km/h,
  course/status WORD), LBS block (MCC WORD, MNC BYTE, LAC WORD, cell id 3 bytes), then ACC BYTE,
  upload mode BYTE, re-upload flag BYTE (1 = sent late from the device's store) and an optional
  mileage DWORD.
* 0x13 heartbeat: terminal info BYTE, voltage level BYTE (0-6), GSM signal BYTE (0-4), alarm
  BYTE, language BYTE.
* 0x16 / 0x26 alarm: GPS block, LBS length BYTE (counting itself) + LBS block, terminal info,
  voltage level, GSM signal, alarm code BYTE, language BYTE.
* 0x21 command reply (answer to a 0x80 command; the server does not acknowledge it): server
  flag DWORD echoed from the command, encoding BYTE (1 ASCII, 2 UTF-16BE), text. Sent in a
  ``79 79`` frame as real devices do.

Course/status word: bits 0-9 course, bit 10 north latitude, bit 11 west longitude, bit 12 GPS
fixed, bit 13 differential, bit 14 "ACC in bit 15", bit 15 ACC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from trackstream_protocols.bcd import encode_bcd
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06.encoder import encode_frame
from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower

__all__ = [
    "ALARM_OVERSPEED",
    "ALARM_POWER_CUT",
    "ALARM_SOS",
    "LANGUAGE_CHINESE",
    "LANGUAGE_ENGLISH",
    "PROTOCOL_ALARM",
    "PROTOCOL_ALARM_OLD",
    "PROTOCOL_COMMAND_REPLY",
    "PROTOCOL_HEARTBEAT",
    "PROTOCOL_LOCATION",
    "PROTOCOL_LOGIN",
    "encode_alarm",
    "encode_command_reply",
    "encode_heartbeat",
    "encode_location",
    "encode_login",
    "terminal_info",
    "timezone_word",
]

PROTOCOL_LOGIN = 0x01
PROTOCOL_HEARTBEAT = 0x13
PROTOCOL_ALARM_OLD = 0x16
PROTOCOL_COMMAND_REPLY = 0x21
PROTOCOL_LOCATION = 0x22
PROTOCOL_ALARM = 0x26

#: alarm codes of the 0x16/0x26 alarm byte (``tables.ALARM_CODES`` reads them back)
ALARM_SOS = 0x01
ALARM_POWER_CUT = 0x02
ALARM_OVERSPEED = 0x06

LANGUAGE_CHINESE = 0x01
LANGUAGE_ENGLISH = 0x02

#: 1/30000 minute units per degree
_COORD_SCALE = 30000 * 60
_NORTH = 0x0400
_WEST = 0x0800
_FIXED = 0x1000
_ACC_PRESENT = 0x4000
_ACC_ON = 0x8000
#: a GPS block is 12 bytes after the time; devices put that in the GPS info high nibble
DEFAULT_GPS_INFO_LENGTH = 12
#: the serving cell a simulator-style device reports when it is not told one (Turkcell, Istanbul)
DEFAULT_CELL = CellTower(mcc=286, mnc=1, lac=0x2A3C, cid=0x01C2D5)


def _byte(name: str, value: int, high: int = 0xFF) -> int:
    if not 0 <= value <= high:
        raise ProtocolError(f"{name} {value} is outside 0..{high}")
    return value


def timezone_word(offset: timedelta, language: int = LANGUAGE_ENGLISH) -> int:
    """The login's timezone/language word for a UTC ``offset`` (whole minutes, at most 14 h)."""
    minutes_total = offset.total_seconds() / 60
    if minutes_total != int(minutes_total) or abs(minutes_total) > 14 * 60:
        raise ProtocolError(f"timezone offset {offset} cannot be sent in a GT06 login")
    hours, minutes = divmod(abs(int(minutes_total)), 60)
    west = 0x08 if minutes_total < 0 else 0
    return ((hours * 100 + minutes) << 4) | west | _byte("language", language, 0x03)


def encode_login(
    imei: str,
    *,
    serial: int,
    type_id: int | None = 0x3632,
    utc_offset: timedelta | None = timedelta(0),
    language: int = LANGUAGE_ENGLISH,
) -> bytes:
    """0x01 login announcing the device clock's ``utc_offset``. ``utc_offset`` None (or
    ``type_id`` None) sends the shorter forms without the timezone word (and without the type
    id)."""
    if len(imei) != 15:
        raise ProtocolError(f"an IMEI has 15 digits, got {len(imei)}")
    content = encode_bcd(imei, 8)
    if type_id is not None:
        content += _byte("type id", type_id, 0xFFFF).to_bytes(2, "big")
        if utc_offset is not None:
            content += timezone_word(utc_offset, language).to_bytes(2, "big")
    return encode_frame(PROTOCOL_LOGIN, content, serial=serial)


def _time(when: datetime, tz: tzinfo) -> bytes:
    if when.tzinfo is None:
        raise ProtocolError("a fix time must be timezone-aware")
    local = when.astimezone(tz)
    if not 2000 <= local.year <= 2255:
        raise ProtocolError(f"year {local.year} cannot be sent as GT06 time")
    return bytes(
        [local.year - 2000, local.month, local.day, local.hour, local.minute, local.second]
    )


def _gps_block(fix: Fix, tz: tzinfo, gps_info_length: int, acc: bool | None) -> bytes:
    if not (-90.0 <= fix.latitude <= 90.0 and -180.0 <= fix.longitude <= 180.0):
        raise ProtocolError(f"position {fix.latitude},{fix.longitude} is out of range")
    satellites = min(fix.satellites or 0, 0x0F)
    course = round(fix.course_deg) % 360
    flags = course
    if fix.latitude >= 0:
        flags |= _NORTH
    if fix.longitude < 0:
        flags |= _WEST
    if fix.valid:
        flags |= _FIXED
    if acc is not None:
        flags |= _ACC_PRESENT | (_ACC_ON if acc else 0)
    speed = min(max(round(fix.speed_kmh), 0), 0xFF)
    return (
        _time(fix.fix_time, tz)
        + bytes([(_byte("GPS info length", gps_info_length, 0x0F) << 4) | satellites])
        + round(abs(fix.latitude) * _COORD_SCALE).to_bytes(4, "big")
        + round(abs(fix.longitude) * _COORD_SCALE).to_bytes(4, "big")
        + bytes([speed])
        + flags.to_bytes(2, "big")
    )


def _lbs_block(cell: CellTower) -> bytes:
    if cell.mnc > 0xFF:
        raise ProtocolError(f"MNC {cell.mnc} needs the 2-byte form, not supported here")
    return (
        _byte("MCC", cell.mcc, 0x7FFF).to_bytes(2, "big")
        + bytes([cell.mnc])
        + _byte("LAC", cell.lac, 0xFFFF).to_bytes(2, "big")
        + _byte("cell id", cell.cid, 0xFFFFFF).to_bytes(3, "big")
    )


def encode_location(
    fix: Fix,
    *,
    serial: int,
    tz: tzinfo = UTC,
    cell: CellTower = DEFAULT_CELL,
    acc: bool = False,
    upload_mode: int = 0x00,
    reupload: bool = False,
    mileage: int | None = None,
    gps_info_length: int = DEFAULT_GPS_INFO_LENGTH,
) -> bytes:
    """0x22 GPS+LBS location. ``tz`` is the zone of the device clock (the one its login
    announced); ``reupload`` marks a position sent late from the device's store (decoded as
    ``archive``); ``mileage`` (metres) is the optional trailing odometer."""
    content = (
        _gps_block(fix, tz, gps_info_length, acc=None)
        + _lbs_block(cell)
        + bytes([1 if acc else 0, _byte("upload mode", upload_mode), 1 if reupload else 0])
    )
    if mileage is not None:
        content += _byte("mileage", mileage, 0xFFFFFFFF).to_bytes(4, "big")
    return encode_frame(PROTOCOL_LOCATION, content, serial=serial)


def terminal_info(
    *,
    ignition: bool = False,
    charging: bool = False,
    gps_tracking: bool = True,
    oil_cut: bool = False,
    armed: bool = False,
    alarm_bits: int = 0,
) -> int:
    """The terminal-information byte: bit 0 armed, 1 ACC, 2 charging, 3-5 alarm, 6 GPS
    tracking on, 7 oil/electricity cut."""
    return (
        (0x01 if armed else 0)
        | (0x02 if ignition else 0)
        | (0x04 if charging else 0)
        | (_byte("alarm bits", alarm_bits, 0x07) << 3)
        | (0x40 if gps_tracking else 0)
        | (0x80 if oil_cut else 0)
    )


def encode_heartbeat(
    *,
    serial: int,
    info: int = 0x40,
    voltage_level: int = 6,
    gsm_signal: int = 4,
    alarm: int = 0,
    language: int = LANGUAGE_ENGLISH,
) -> bytes:
    """0x13 status/heartbeat. ``info`` is a :func:`terminal_info` byte."""
    content = bytes(
        [
            _byte("terminal info", info),
            _byte("voltage level", voltage_level),
            _byte("GSM signal", gsm_signal),
            _byte("alarm", alarm),
            _byte("language", language),
        ]
    )
    return encode_frame(PROTOCOL_HEARTBEAT, content, serial=serial)


def encode_alarm(
    fix: Fix,
    *,
    serial: int,
    alarm: int,
    tz: tzinfo = UTC,
    protocol: int = PROTOCOL_ALARM,
    cell: CellTower | None = DEFAULT_CELL,
    acc: bool | None = None,
    info: int = 0x40,
    voltage_level: int = 6,
    gsm_signal: int = 4,
    language: int = LANGUAGE_ENGLISH,
    gps_info_length: int = DEFAULT_GPS_INFO_LENGTH,
) -> bytes:
    """0x26 (or 0x16) GPS+LBS+status alarm carrying the ``alarm`` code (:data:`ALARM_SOS`,
    :data:`ALARM_POWER_CUT`, :data:`ALARM_OVERSPEED`, or any code of ``tables.ALARM_CODES``).
    ``acc`` set puts the ACC state into the course word; ``cell`` None sends an empty LBS
    block (length byte 1)."""
    if protocol not in (PROTOCOL_ALARM, PROTOCOL_ALARM_OLD):
        raise ProtocolError(f"0x{protocol:02X} is not a GPS+LBS+status alarm packet")
    lbs = _lbs_block(cell) if cell is not None else b""
    content = (
        _gps_block(fix, tz, gps_info_length, acc=acc)
        + bytes([len(lbs) + 1])
        + lbs
        + bytes(
            [
                _byte("terminal info", info),
                _byte("voltage level", voltage_level),
                _byte("GSM signal", gsm_signal),
                _byte("alarm", alarm),
                _byte("language", language),
            ]
        )
    )
    return encode_frame(protocol, content, serial=serial)


def encode_command_reply(text: str, *, server_flag: int, serial: int, utf16: bool = False) -> bytes:
    """0x21 reply to a 0x80 command, echoing the command's ``server_flag``."""
    if not 0 <= server_flag <= 0xFFFFFFFF:
        raise ProtocolError(f"server flag {server_flag} out of range")
    if utf16:
        data = text.encode("utf-16-be")
    else:
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            raise ProtocolError(f"GT06 reply text must be ASCII: {text!r}") from None
    content = server_flag.to_bytes(4, "big") + bytes([2 if utf16 else 1]) + data
    return encode_frame(PROTOCOL_COMMAND_REPLY, content, serial=serial, extended=True)
