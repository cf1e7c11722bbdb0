"""GT06 frame -> typed message. Pure: no I/O, no clock, no device registry.

Device timestamps are local to the device's zone (``tz``, default UTC; the login message reports
the zone a device uses) and are converted to UTC. Anything malformed raises
:class:`ProtocolError`; protocol numbers without a decoder become :class:`UnknownMessage`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Protocol, cast

from trackstream_protocols.bcd import decode_bcd, is_bcd
from trackstream_protocols.errors import ChecksumError, ProtocolError
from trackstream_protocols.gt06.framing import Gt06Frame
from trackstream_protocols.gt06.messages import (
    Gt06Alarm,
    Gt06CellReport,
    Gt06DashcamAlarm,
    Gt06Heartbeat,
    Gt06Info,
    Gt06Location,
    Gt06Login,
    Gt06Message,
    Gt06TextReply,
    Gt06TimeRequest,
    Gt06WifiReport,
    UnknownMessage,
)
from trackstream_protocols.gt06.tables import (
    STATUS_ALARM_BITS,
    alarm_for_code,
    dashcam_alarm_for_code,
)
from trackstream_protocols.model import Fix
from trackstream_protocols.native import extension
from trackstream_protocols.network import CellTower, WifiAccessPoint
from trackstream_protocols.reader import ByteReader

__all__ = ["decode", "decode_python"]

UTC = UTC
#: 1/30000 minute units -> degrees
_COORD_SCALE = 30000.0 * 60.0


def decode_python(frame: Gt06Frame, *, tz: tzinfo = UTC, require_crc: bool = False) -> Gt06Message:
    """Decode one frame from :class:`Gt06FrameSplitter`, in Python (the specification).

    ``tz`` is the zone of the device's clock (e.g. ``Gt06Login.timezone``); every datetime in
    the result is UTC-aware. With ``require_crc`` a frame whose CRC did not match raises
    :class:`ChecksumError` instead of being decoded (frames without a CRC are still decoded).

    :data:`decode` is what callers use: this function, or the C extension's, which decodes the
    usual location layouts itself and hands every other frame to this one.
    """
    if require_crc and frame.crc_ok is False:
        raise ChecksumError(f"GT06 0x{frame.protocol:02X} frame serial {frame.serial}: bad CRC")
    fast = _FAST_HANDLERS.get(frame.protocol)
    if fast is not None:
        return fast(frame, tz)
    return _decode_careful(frame, tz)


def _decode_careful(frame: Gt06Frame, tz: tzinfo) -> Gt06Message:
    """Decode field by field with :class:`ByteReader`: every message kind, every variant, and
    the exact error for a truncated one. The fast handlers fall back to this."""
    handler = _HANDLERS.get(frame.protocol)
    if handler is None:
        return _unknown(frame)
    reader = ByteReader(frame.content, f"GT06 0x{frame.protocol:02X} content")
    return handler(frame, reader, tz)


def _unknown(frame: Gt06Frame) -> UnknownMessage:
    return UnknownMessage(
        protocol=frame.protocol,
        serial=frame.serial,
        content=frame.content,
        extended=frame.extended,
    )


# ---------------------------------------------------------------------------------------------
# shared blocks


def _utc_time(yy: int, mo: int, dd: int, hh: int, mi: int, ss: int, tz: tzinfo) -> datetime | None:
    """YY MM DD hh mm ss in the device zone -> UTC; None when it is no valid date."""
    try:
        if tz is UTC:
            return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC)
        if type(tz) is timezone:  # a fixed offset (the login reports one): no tz lookup needed
            offset = tz.utcoffset(None)
            return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC) - offset
        return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _local_time(fields: tuple[int, ...] | bytes, tz: tzinfo) -> datetime | None:
    """YY MM DD hh mm ss in the device zone -> UTC; None when it is no valid date."""
    yy, mo, dd, hh, mi, ss = fields
    return _utc_time(yy, mo, dd, hh, mi, ss, tz)


def _read_time(r: ByteReader, tz: tzinfo) -> datetime | None:
    return _local_time(r.read(6, "date/time"), tz)


@dataclass(slots=True)
class _Gps:
    time: datetime | None
    satellites: int | None
    latitude: float
    longitude: float
    speed_kmh: float
    course: int
    valid: bool
    acc: bool | None


def _read_gps(r: ByteReader, tz: tzinfo, *, satellites: bool = True, speed: bool = True) -> _Gps:
    time = _read_time(r, tz)
    sats = r.u8("GPS info") & 0x0F if satellites else None
    latitude = r.u32("latitude") / _COORD_SCALE
    longitude = r.u32("longitude") / _COORD_SCALE
    speed_kmh = float(r.u8("speed")) if speed else 0.0
    flags = r.u16("course/status")
    if not flags & 0x0400:  # bit 10: north latitude
        latitude = -latitude
    if flags & 0x0800:  # bit 11: west longitude
        longitude = -longitude
    return _Gps(
        time=time,
        satellites=sats,
        latitude=latitude,
        longitude=longitude,
        speed_kmh=speed_kmh,
        course=flags & 0x03FF,
        valid=bool(flags & 0x1000),
        acc=bool(flags & 0x8000) if flags & 0x4000 else None,
    )


def _fix(gps: _Gps, attributes: dict[str, object]) -> Fix | None:
    if gps.time is None:
        return None
    return Fix(
        fix_time=gps.time,
        latitude=gps.latitude,
        longitude=gps.longitude,
        speed_kmh=gps.speed_kmh,
        course_deg=float(gps.course),
        valid=gps.valid,
        satellites=gps.satellites,
        attributes=dict(attributes),
    )


@dataclass(frozen=True, slots=True)
class _CellLayout:
    lac_size: int
    cid_size: int
    #: the whole cell block (MCC, MNC, LAC, cell id) for one ``struct`` call, with a 1-byte and
    #: with a 2-byte MNC; a 3-byte cell id is read as a byte and a word
    narrow: struct.Struct
    wide: struct.Struct
    wide_mnc: bool = False


_CELL_2G = _CellLayout(2, 3, struct.Struct(">HBHBH"), struct.Struct(">HHHBH"))
#: 0x11: always a 2-byte MNC
_CELL_WIDE = _CellLayout(2, 4, struct.Struct(">HHHI"), struct.Struct(">HHHI"), wide_mnc=True)
_CELL_4G = _CellLayout(4, 8, struct.Struct(">HBIQ"), struct.Struct(">HHIQ"))


def _read_mcc_mnc(r: ByteReader, wide_mnc: bool = False) -> tuple[int, int]:
    mcc = r.u16("MCC")
    mnc = r.u16("MNC") if (mcc & 0x8000 or wide_mnc) else r.u8("MNC")
    return mcc & 0x7FFF, mnc


def _read_cell(r: ByteReader, layout: _CellLayout) -> CellTower | None:
    mcc, mnc = _read_mcc_mnc(r, layout.wide_mnc)
    lac = r.uint(layout.lac_size, "LAC")
    cid = r.uint(layout.cid_size, "cell id")
    if mcc == 0 and lac == 0 and cid == 0:
        return None
    return CellTower(mcc=mcc, mnc=mnc, lac=lac, cid=cid)


def _battery_level(level: int) -> int | None:
    """Voltage level 0..6 -> percent; 7..100 is already a percentage."""
    if level <= 6:
        return level * 100 // 6
    return level if level <= 100 else None


def _status_bits(info: int, attrs: dict[str, object]) -> str | None:
    """Terminal-information byte -> ignition/charge/blocked; returns the bits 3..5 alarm."""
    attrs["status"] = info
    attrs["ignition"] = bool(info & 0x02)
    attrs["charge"] = bool(info & 0x04)
    attrs["blocked"] = bool(info & 0x80)
    return STATUS_ALARM_BITS.get((info >> 3) & 0x07)


def _join_alarms(*names: str | None) -> str | None:
    seen: list[str] = []
    for name in names:
        if name is not None and name not in seen:
            seen.append(name)
    return ",".join(seen) if seen else None


def _text(data: bytes, encoding: str = "ascii") -> str:
    return data.decode(encoding, errors="replace").replace("\x00", "").strip()


# ---------------------------------------------------------------------------------------------
# 0x01 login


def _login(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    raw_imei = r.read(8, "IMEI")
    if not is_bcd(raw_imei):  # no digits in the message: errors never say whose frame it was
        raise ProtocolError("GT06 0x01 content: IMEI is not BCD")
    digits = raw_imei.hex()
    imei = digits[1:] if digits.startswith("0") else digits
    type_id = r.u16("type id") if r.remaining >= 2 else None
    tz_out: timezone | None = None
    language: int | None = None
    word: int | None = None
    if r.remaining >= 2:
        word = r.u16("timezone/language")
        language = word & 0x03
        hours, minutes = divmod(word >> 4, 100)
        if minutes < 60 and hours <= 14:
            offset = timedelta(hours=hours, minutes=minutes)
            tz_out = timezone(-offset if word & 0x08 else offset)
    return Gt06Login(
        protocol=frame.protocol,
        serial=frame.serial,
        imei=imei,
        type_id=type_id,
        timezone=tz_out,
        language=language,
        timezone_word=word,
    )


# ---------------------------------------------------------------------------------------------
# GPS (+LBS) locations


_LOCATION_CELLS: dict[int, _CellLayout | None] = {
    0x10: None,
    0x11: _CELL_WIDE,
    0x12: _CELL_2G,
    0x22: _CELL_2G,
    0x2D: _CELL_2G,
    0x31: _CELL_2G,
    0x37: _CELL_2G,
    0xA0: _CELL_4G,
}
#: types followed by ACC, data upload mode and re-upload flag bytes
_UPLOAD_TRAILER = frozenset({0x22, 0x2D, 0x37, 0xA0})


def _location(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    gps = _read_gps(r, tz)
    attrs: dict[str, object] = {}
    if gps.acc is not None:
        attrs["ignition"] = gps.acc
    cell = None
    layout = _LOCATION_CELLS[frame.protocol]
    if layout is not None and r.remaining:
        cell = _read_cell(r, layout)
    if frame.protocol in _UPLOAD_TRAILER and r.remaining >= 3:
        attrs["ignition"] = r.u8("ACC") > 0
        attrs["event"] = r.u8("upload mode")
        attrs["archive"] = r.u8("re-upload flag") > 0
    if frame.protocol == 0x37:
        _modules(r, attrs)
    if r.remaining == 4:
        attrs["odometer"] = r.u32("mileage")
    return Gt06Location(
        protocol=frame.protocol,
        serial=frame.serial,
        fix=_fix(gps, attrs),
        cell=cell,
        attributes=attrs,
    )


def _modules(r: ByteReader, attrs: dict[str, object]) -> None:
    """0x37 trailer: (module id u16, length u8, value) entries."""
    while r.remaining >= 3:
        module = r.u16("module id")
        value = r.sub(r.u8("module length"), f"module 0x{module:04X}")
        if module == 0x0027 and value.remaining >= 2:
            attrs["power"] = value.u16("power") * 0.01
        elif module == 0x002E and value.remaining >= 4:
            attrs["odometer"] = value.u32("odometer")
        elif module == 0x003B and value.remaining >= 2:
            attrs["accuracy"] = value.u16("accuracy") * 0.01


# ---------------------------------------------------------------------------------------------
# status / heartbeat


def _heartbeat(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    attrs: dict[str, object] = {}
    if r.remaining == 16:
        # long status variant (Traccar's 22-byte 0x13): battery as a percentage plus temperature
        attrs["status"] = r.u8("terminal info")
        r.skip(2, "satellites")
        r.skip(2, "alarm/language")
        attrs["batteryLevel"] = r.u8("battery level")
        r.skip(1 + 2 + 1 + 2 + 2, "working mode/voltage/times")
        value = r.u16("temperature")
        temperature = (value & 0x7FFF) * 0.1
        attrs["temp1"] = -temperature if value & 0x8000 else temperature
    else:
        status_alarm = _status_bits(r.u8("terminal info"), attrs)
        level = _battery_level(r.u8("voltage level"))
        if level is not None:
            attrs["batteryLevel"] = level
        attrs["rssi"] = r.u8("GSM signal")
        code_alarm = alarm_for_code(r.u8("alarm")) if r.remaining >= 1 else None
        alarm = _join_alarms(code_alarm, status_alarm)
        if alarm is not None:
            attrs["alarm"] = alarm
    return Gt06Heartbeat(protocol=frame.protocol, serial=frame.serial, attributes=attrs)


def _heartbeat_gk310(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    info = r.u8("terminal info")
    attrs: dict[str, object] = {
        "status": info,
        "armed": bool(info & 0x01),
        "ignition": bool(info & 0x02),
        "charge": bool(info & 0x04),
    }
    if r.remaining >= 2:
        attrs["battery"] = r.u16("battery voltage") * 0.01
    if r.remaining >= 1:
        attrs["rssi"] = r.u8("GSM signal")
    if r.remaining >= 1:
        alarm = alarm_for_code(r.u8("alarm"))
        if alarm is not None:
            attrs["alarm"] = alarm
    return Gt06Heartbeat(protocol=frame.protocol, serial=frame.serial, attributes=attrs)


# ---------------------------------------------------------------------------------------------
# alarm packets (GPS + LBS + status)

#: an alarm packet without LBS may still reserve this many zeroed bytes for it
_ZEROED_LBS = 45
_ALARM_STATUS_SIZE = 5


def _alarm(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    gps = _read_gps(r, tz)
    attrs: dict[str, object] = {}
    if gps.acc is not None:
        attrs["ignition"] = gps.acc
    layout = _CELL_4G if frame.protocol == 0xA4 else _CELL_2G
    cell = None
    lbs_length = r.u8("LBS length")
    if lbs_length == 0:
        ahead = r.peek(_ZEROED_LBS)
        if (
            r.remaining >= _ZEROED_LBS + _ALARM_STATUS_SIZE
            and len(ahead) == _ZEROED_LBS
            and not any(ahead[9:])
        ):
            r.skip(_ZEROED_LBS, "zeroed LBS block")
    elif lbs_length > 1:
        block = r.sub(lbs_length - 1, "LBS block")
        cell = _read_cell(block, layout)
    status_alarm = _status_bits(r.u8("terminal info"), attrs)
    level = _battery_level(r.u8("voltage level"))
    if level is not None:
        attrs["batteryLevel"] = level
    attrs["rssi"] = r.u8("GSM signal")
    code = r.u8("alarm")
    language = r.u8("language") if r.remaining >= 1 else 0
    if frame.protocol in (0x27, 0xA4):
        code |= (language >> 4) << 8
    geofence = None
    if frame.protocol in (0x27, 0xA4) and r.remaining >= 1:
        fence = r.u8("fence number")
        geofence = None if fence == 0xFF else fence
    if r.remaining == 4:
        attrs["odometer"] = r.u32("mileage")
    alarm = _join_alarms(alarm_for_code(code), status_alarm)
    if alarm is not None:
        attrs["alarm"] = alarm
    if geofence is not None:
        attrs["geofence"] = geofence
    return Gt06Alarm(
        protocol=frame.protocol,
        serial=frame.serial,
        fix=_fix(gps, attrs),
        cell=cell,
        alarm=alarm,
        alarm_code=code,
        geofence=geofence,
        attributes=attrs,
    )


# ---------------------------------------------------------------------------------------------
# LBS and Wi-Fi reports

_NEIGHBOURHOOD = 7  # serving cell + 6 neighbours


def _cell_list(
    r: ByteReader, layout: _CellLayout, mcc: int, mnc: int, count: int
) -> tuple[CellTower, ...]:
    cells = []
    for _ in range(count):
        lac = r.uint(layout.lac_size, "LAC")
        cid = r.uint(layout.cid_size, "cell id")
        rssi = r.u8("cell signal")
        if lac or cid:
            cells.append(CellTower(mcc=mcc, mnc=mnc, lac=lac, cid=cid, signal_strength=-rssi))
    return tuple(cells)


def _cells(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    time = _read_time(r, tz)
    mcc, mnc = _read_mcc_mnc(r)
    layout = _CELL_4G if frame.protocol == 0xA1 else _CELL_2G
    towers = _cell_list(r, layout, mcc, mnc, _NEIGHBOURHOOD)
    attrs: dict[str, object] = {}
    if r.remaining >= 1:
        attrs["timingAdvance"] = r.u8("timing advance")
    return Gt06CellReport(
        protocol=frame.protocol,
        serial=frame.serial,
        device_time=time,
        cell_towers=towers,
        attributes=attrs,
    )


def _mac(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def _lbs_wifi(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    time = _read_time(r, tz)
    mcc, mnc = _read_mcc_mnc(r)
    towers = _cell_list(r, _CELL_2G, mcc, mnc, _NEIGHBOURHOOD)
    r.skip(1, "timing advance")
    count = r.u8("Wi-Fi count")
    aps = []
    for _ in range(count):
        mac = _mac(r.read(6, "MAC address"))
        aps.append(WifiAccessPoint(mac_address=mac, signal_strength=-r.u8("Wi-Fi signal")))
    return Gt06WifiReport(
        protocol=frame.protocol,
        serial=frame.serial,
        device_time=time,
        access_points=tuple(aps),
        cell_towers=towers,
    )


def _wifi_uncounted(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    if frame.serial is not None or len(frame.raw) < 4:
        return _unknown(frame)  # a counted 0x17/0x69 frame: layout not documented
    time_bcd = r.read(6, "BCD date/time")
    try:
        digits = decode_bcd(time_bcd)
    except ProtocolError:
        time = None
    else:
        time = _local_time(tuple(int(digits[i : i + 2]) for i in range(0, 12, 2)), UTC)
    aps = []
    for _ in range(frame.raw[2]):
        mac = _mac(r.read(6, "MAC address"))
        aps.append(WifiAccessPoint(mac_address=mac, signal_strength=-r.u8("Wi-Fi signal")))
    count = r.u8("cell count")
    mcc, mnc = _read_mcc_mnc(r)
    cells = []
    for _ in range(count):
        lac = r.u16("LAC")
        cid = r.u16("cell id")
        rssi = r.u8("cell signal")
        cells.append(CellTower(mcc=mcc, mnc=mnc, lac=lac, cid=cid, signal_strength=-rssi))
    return Gt06WifiReport(
        protocol=frame.protocol,
        serial=None,
        device_time=time,
        access_points=tuple(aps),
        cell_towers=tuple(cells),
        time_bcd=time_bcd,
    )


# ---------------------------------------------------------------------------------------------
# text replies


_POSITION_TEXT = re.compile(
    r"Current position!\s*Lat:([NS])(\d+(?:\.\d+)?),Lon:([EW])(\d+(?:\.\d+)?),"
    r"Course:(\d+(?:\.\d+)?),Speed:(\d+(?:\.\d+)?),"
    r"DateTime:(\d{4})-(\d\d)-(\d\d) +(\d\d):(\d\d):(\d\d)"
)


def _text_fix(text: str, tz: tzinfo) -> Fix | None:
    """A "Current position!" reply -> Fix (speed taken as km/h; the unit is undocumented)."""
    m = _POSITION_TEXT.search(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(7, 13))
    try:
        when = datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    latitude = float(m.group(2)) * (-1 if m.group(1) == "S" else 1)
    longitude = float(m.group(4)) * (-1 if m.group(3) == "W" else 1)
    return Fix(
        fix_time=when,
        latitude=latitude,
        longitude=longitude,
        speed_kmh=float(m.group(6)),
        course_deg=float(m.group(5)),
        valid=True,
    )


def _reply(frame: Gt06Frame, flag: int, text: str, tz: tzinfo) -> Gt06Message:
    attrs: dict[str, object] = {}
    if text.startswith("<ICCID:"):
        attrs["iccid"] = text[7:27]
    else:
        attrs["result"] = text
    return Gt06TextReply(
        protocol=frame.protocol,
        serial=frame.serial,
        server_flag=flag,
        text=text,
        fix=_text_fix(text, tz),
        attributes=attrs,
    )


def _string_old(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    """0x15: length(1) = flag(4) + text; then a 2-byte language word."""
    length = r.u8("command length")
    flag = r.u32("server flag")
    if length >= 4:
        text = r.read(length - 4, "command text")
    else:  # some devices send length 0 and pad the text with NULs up to the language word
        text = r.read(max(r.remaining - 2, 0), "command text")
    return _reply(frame, flag, _text(text), tz)


def _string(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    """0x21: flag(4), encoding(1: ASCII, 2: UTF-16BE), text."""
    flag = r.u32("server flag")
    encoding = r.u8("encoding")
    text = _text(r.rest(), "utf-16-be" if encoding == 2 else "ascii")
    return _reply(frame, flag, text, tz)


# ---------------------------------------------------------------------------------------------
# 0x94 information, 0x8A time request, 0x95 dashcam alarm


def _digits_after_filler(data: bytes) -> str:
    """8-byte BCD IMEI/IMSI -> 15 digits (leading filler nibble dropped)."""
    digits = data.hex()
    return digits[1:] if digits.startswith("0") else digits


def _iccid(data: bytes) -> str:
    """10-byte ICCID; 'f' fillers removed; nibble-swapped storage (``98..``) is undone."""
    text = data.hex()
    if text.startswith("98"):
        text = "".join(text[i + 1] + text[i] for i in range(0, len(text), 2))
    return text.replace("f", "")


def _info(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    attrs: dict[str, object] = {}
    if not frame.extended and r.remaining == 2:
        data = r.rest()  # old short form: only the external voltage, no sub-type
        attrs["power"] = int.from_bytes(data, "big") * 0.01
        return Gt06Info(
            protocol=frame.protocol, serial=frame.serial, subtype=None, data=data, attributes=attrs
        )
    subtype = r.u8("information type")
    data = r.rest()
    d = ByteReader(data, f"GT06 0x94 sub-type 0x{subtype:02X}")
    if subtype == 0x00:
        attrs["power"] = d.u16("external voltage") * 0.01
    elif subtype == 0x05:
        flags = d.u8("door status")
        attrs["door"] = bool(flags & 0x01)
        attrs["io1"] = bool(flags & 0x04)
    elif subtype == 0x0A:
        attrs["imei"] = _digits_after_filler(d.read(8, "IMEI"))
        attrs["imsi"] = _digits_after_filler(d.read(8, "IMSI"))
        attrs["iccid"] = _iccid(d.read(10, "ICCID"))
    elif subtype == 0x1B:
        d.skip(2, "RFID header/type")
        attrs["driverUniqueId"] = d.read(4, "RFID").hex()
    return Gt06Info(
        protocol=frame.protocol, serial=frame.serial, subtype=subtype, data=data, attributes=attrs
    )


def _time_request(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    return Gt06TimeRequest(protocol=frame.protocol, serial=frame.serial)


_DASHCAM_SHORT = 7  # time(6) + event type(1)


def _dashcam(frame: Gt06Frame, r: ByteReader, tz: tzinfo) -> Gt06Message:
    extended = r.remaining > _DASHCAM_SHORT
    attrs: dict[str, object] = {}
    gps = None
    if extended:
        gps = _read_gps(r, tz, satellites=False, speed=False)
        time = gps.time
    else:
        time = _read_time(r, tz)
    code = r.u8("event type")
    value = r.u16("alarm value") if extended and r.remaining >= 2 else None
    files: tuple[str, ...] = ()
    if extended and r.remaining:
        names = _text(r.rest())
        files = tuple(name for name in (n.strip() for n in names.split(",")) if name)
    alarm = dashcam_alarm_for_code(code, extended=extended)
    attrs["alarm"] = alarm
    if files:
        attrs["eventFiles"] = ",".join(files)
    return Gt06DashcamAlarm(
        protocol=frame.protocol,
        serial=frame.serial,
        device_time=time,
        fix=_fix(gps, attrs) if gps is not None else None,
        alarm=alarm,
        alarm_code=code,
        alarm_value=value,
        event_files=files,
        attributes=attrs,
    )


# ---------------------------------------------------------------------------------------------
# fast paths for the frequent messages
#
# One length check, then whole blocks with precompiled ``struct`` unpacks, for the usual layouts
# of the messages a fleet sends all day. Anything else (a truncated frame, an unusual variant)
# goes to the careful decoder above, which gives the same result or the exact error; the tests
# check that both agree wherever the fast path answers.

#: date/time, GPS info (satellites), latitude, longitude, speed, course/status
_GPS = struct.Struct(">6BBIIBH")
_GPS_SIZE = _GPS.size
#: terminal info, voltage level, GSM signal, alarm
_STATUS = struct.Struct(">4B")


def _cell_at(content: bytes, pos: int, layout: _CellLayout) -> tuple[CellTower | None, int] | None:
    """(cell or None for an all-zero one, offset after it) of the cell block at ``pos``; None
    when the block does not fit (the careful path reports that)."""
    if pos >= len(content):
        return None
    shape = layout.wide if layout.wide_mnc or content[pos] & 0x80 else layout.narrow
    end = pos + shape.size
    if end > len(content):
        return None
    if layout.cid_size == 3:
        mcc, mnc, lac, cid_high, cid_low = shape.unpack_from(content, pos)
        cid = cid_high << 16 | cid_low
    else:
        mcc, mnc, lac, cid = shape.unpack_from(content, pos)
    mcc &= 0x7FFF
    if mcc == 0 and lac == 0 and cid == 0:
        return None, end
    return CellTower(mcc=mcc, mnc=mnc, lac=lac, cid=cid), end


#: the GPS block followed by a 2G cell with a 1-byte MNC (MCC high bit clear), the layout of
#: nearly every 0x12/0x22 report: decoded with one unpack
_GPS_CELL_2G = struct.Struct(">6BBIIBHHBHBH")
_GPS_CELL_2G_SIZE = _GPS_CELL_2G.size


def _location_fast(frame: Gt06Frame, tz: tzinfo) -> Gt06Message:
    content = frame.content
    size = len(content)
    protocol = frame.protocol
    layout = _LOCATION_CELLS[protocol]
    if layout is _CELL_2G and size >= _GPS_CELL_2G_SIZE and not content[_GPS_SIZE] & 0x80:
        (yy, mo, dd, hh, mi, ss, info, lat, lon, speed, flags,
         mcc, mnc, lac, cid_high, cid_low) = _GPS_CELL_2G.unpack_from(content)  # fmt: skip
        cid = cid_high << 16 | cid_low
        cell = None if mcc == 0 and lac == 0 and cid == 0 else CellTower(mcc, mnc, lac, cid)
        pos = _GPS_CELL_2G_SIZE
    else:
        if size < _GPS_SIZE:
            return _decode_careful(frame, tz)
        yy, mo, dd, hh, mi, ss, info, lat, lon, speed, flags = _GPS.unpack_from(content)
        cell = None
        pos = _GPS_SIZE
        if layout is not None and size > pos:
            found = _cell_at(content, pos, layout)
            if found is None:
                return _decode_careful(frame, tz)
            cell, pos = found
    attrs: dict[str, object] = {}
    if flags & 0x4000:
        attrs["ignition"] = bool(flags & 0x8000)
    if protocol in _UPLOAD_TRAILER and size - pos >= 3:
        attrs["ignition"] = content[pos] > 0
        attrs["event"] = content[pos + 1]
        attrs["archive"] = content[pos + 2] > 0
        pos += 3
    if size - pos == 4:
        attrs["odometer"] = int.from_bytes(content[pos:], "big")
    return Gt06Location(
        protocol=protocol,
        serial=frame.serial,
        fix=_gps_fix(yy, mo, dd, hh, mi, ss, info, lat, lon, speed, flags, tz, attrs),
        cell=cell,
        attributes=attrs,
    )


def _gps_fix(
    yy: int,
    mo: int,
    dd: int,
    hh: int,
    mi: int,
    ss: int,
    info: int,
    lat: int,
    lon: int,
    speed: int,
    flags: int,
    tz: tzinfo,
    attrs: dict[str, object],
) -> Fix | None:
    """The fix of an unpacked GPS block (what :func:`_read_gps` + :func:`_fix` make)."""
    if tz is UTC:
        try:
            time = datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC)
        except ValueError:
            return None
    else:
        found = _utc_time(yy, mo, dd, hh, mi, ss, tz)
        if found is None:
            return None
        time = found
    latitude = lat / _COORD_SCALE
    longitude = lon / _COORD_SCALE
    if not flags & 0x0400:  # bit 10: north latitude
        latitude = -latitude
    if flags & 0x0800:  # bit 11: west longitude
        longitude = -longitude
    return Fix(
        time,
        latitude,
        longitude,
        float(speed),
        float(flags & 0x03FF),
        bool(flags & 0x1000),
        info & 0x0F,
        None,
        dict(attrs),
    )


def _status_fast(content: bytes, pos: int, attrs: dict[str, object]) -> tuple[str | None, int]:
    """Terminal info, voltage level and GSM signal at ``pos`` (4 bytes there are checked by the
    caller) into ``attrs``; returns (status-bits alarm, alarm code byte)."""
    info, level, rssi, code = _STATUS.unpack_from(content, pos)
    attrs["status"] = info
    attrs["ignition"] = bool(info & 0x02)
    attrs["charge"] = bool(info & 0x04)
    attrs["blocked"] = bool(info & 0x80)
    status_alarm = STATUS_ALARM_BITS.get((info >> 3) & 0x07)
    percent = _battery_level(level)
    if percent is not None:
        attrs["batteryLevel"] = percent
    attrs["rssi"] = rssi
    return status_alarm, code


def _alarm_fast(frame: Gt06Frame, tz: tzinfo) -> Gt06Message:
    content = frame.content
    size = len(content)
    if size < _GPS_SIZE + 1:
        return _decode_careful(frame, tz)
    yy, mo, dd, hh, mi, ss, info, lat, lon, speed, flags = _GPS.unpack_from(content)
    protocol = frame.protocol
    attrs: dict[str, object] = {}
    if flags & 0x4000:
        attrs["ignition"] = bool(flags & 0x8000)
    cell = None
    lbs_length = content[_GPS_SIZE]
    pos = _GPS_SIZE + 1
    if lbs_length == 0:
        if size - pos >= _ZEROED_LBS + _ALARM_STATUS_SIZE and not any(
            content[pos + 9 : pos + _ZEROED_LBS]
        ):
            pos += _ZEROED_LBS
    elif lbs_length > 1:
        end = pos + lbs_length - 1
        found = _cell_at(content[pos:end], 0, _CELL_4G if protocol == 0xA4 else _CELL_2G)
        if end > size or found is None:
            return _decode_careful(frame, tz)
        cell = found[0]
        pos = end
    if size - pos < _STATUS.size:
        return _decode_careful(frame, tz)
    status_alarm, code = _status_fast(content, pos, attrs)
    pos += _STATUS.size
    language = content[pos] if pos < size else 0
    pos += 1
    geofence = None
    if protocol in (0x27, 0xA4):
        code |= (language >> 4) << 8
        if pos < size:
            fence = content[pos]
            geofence = None if fence == 0xFF else fence
            pos += 1
    if size - pos == 4:
        attrs["odometer"] = int.from_bytes(content[pos:], "big")
    alarm = _join_alarms(alarm_for_code(code), status_alarm)
    if alarm is not None:
        attrs["alarm"] = alarm
    if geofence is not None:
        attrs["geofence"] = geofence
    return Gt06Alarm(
        protocol=protocol,
        serial=frame.serial,
        fix=_gps_fix(yy, mo, dd, hh, mi, ss, info, lat, lon, speed, flags, tz, attrs),
        cell=cell,
        alarm=alarm,
        alarm_code=code,
        geofence=geofence,
        attributes=attrs,
    )


def _heartbeat_fast(frame: Gt06Frame, tz: tzinfo) -> Gt06Message:
    content = frame.content
    size = len(content)
    if size < 3 or size == 16:  # truncated, or the long status variant
        return _decode_careful(frame, tz)
    attrs: dict[str, object] = {}
    if size == 3:
        status_alarm, code = _status_fast(content + b"\x00", 0, attrs)
        alarm = status_alarm
    else:
        status_alarm, code = _status_fast(content, 0, attrs)
        alarm = _join_alarms(alarm_for_code(code), status_alarm)
    if alarm is not None:
        attrs["alarm"] = alarm
    return Gt06Heartbeat(protocol=frame.protocol, serial=frame.serial, attributes=attrs)


_FastHandler = Callable[[Gt06Frame, tzinfo], Gt06Message]

_FAST_HANDLERS: dict[int, _FastHandler] = {
    **{protocol: _location_fast for protocol in _LOCATION_CELLS if protocol != 0x37},
    0x13: _heartbeat_fast,
    **dict.fromkeys((0x16, 0x26, 0x27, 0xA4), _alarm_fast),
}


_Handler = Callable[[Gt06Frame, ByteReader, tzinfo], Gt06Message]

_HANDLERS: dict[int, _Handler] = {
    0x01: _login,
    **dict.fromkeys(_LOCATION_CELLS, _location),
    0x13: _heartbeat,
    0x23: _heartbeat_gk310,
    **dict.fromkeys((0x16, 0x26, 0x27, 0xA4), _alarm),
    **dict.fromkeys((0x18, 0x28, 0x2E, 0xA1), _cells),
    0x2C: _lbs_wifi,
    0x17: _wifi_uncounted,
    0x69: _wifi_uncounted,
    0x15: _string_old,
    0x21: _string,
    0x94: _info,
    0x8A: _time_request,
    0x95: _dashcam,
}

#: protocol numbers :func:`decode` turns into typed messages (everything else is Unknown)
DECODED_PROTOCOLS = frozenset(_HANDLERS)


class _Decode(Protocol):
    def __call__(
        self, frame: Gt06Frame, *, tz: tzinfo = UTC, require_crc: bool = False
    ) -> Gt06Message: ...


#: Decode one frame (see :func:`decode_python` for the arguments and the result). With the C
#: extension built (:mod:`trackstream_protocols.native`), the usual location layouts (0x10,
#: 0x11, 0x12, 0x22, 0x2D, 0x31, 0xA0 in a fixed-offset zone) are decoded in C into the same
#: objects; every other frame, and every error, is :func:`decode_python`'s.
decode: _Decode = decode_python
if extension is not None:
    extension.gt06_bind(Gt06Frame, Gt06Location, Fix, CellTower, decode_python)
    decode = cast(_Decode, extension.gt06_decode)
