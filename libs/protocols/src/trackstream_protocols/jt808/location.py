"""The 0x0200 location block: basic information, alarm and status bits, additional items.

Basic information (28 bytes): alarm DWORD, status DWORD, latitude DWORD and longitude DWORD
(1e-6 degree, hemispheres in status bits 2 and 3), altitude WORD (metres; read as
sign-magnitude like Traccar, for terminals that report negative altitudes), speed WORD
(0.1 km/h), direction WORD (0-359), time BCD[6] ``YYMMDDhhmmss`` in the terminal's time zone
(GMT+8 unless configured). Then additional items: id BYTE, length BYTE, value.

Alarm bits are named as Traccar names them for its default models (docs/protocols.md §5):
0 sos, 1 overspeed, 2 fatigueDriving, 4/9/10/11 fault, 5/6 gpsAntennaCut, 7 lowBattery,
8 powerOff, 15 vibration, 16/17 tampering, 18 lowBattery, 19 parking, 20 geofence, 26 general,
28 movement, 29/30 accident (15-18 are vendor reuses of reserved or driving-time bits).

Jimi vendor items, as far as they are public (their layout is read from Traccar's
``Jt808ProtocolDecoder``; Jimi publishes no JT/T 808 extension document):

* 0xE8 (JC371/JC181/JC450 dashcams): WORD type first. 0x2002 = length BYTE, upload mode BYTE,
  buffered BYTE; 0x2003 = length BYTE, charging BYTE, battery status BYTE (1-6 steps),
  battery WORD (0.01 V), rssi BYTE, external power WORD (0.01 V); 0x2005 = length BYTE, then
  (id WORD, length BYTE, value) items: 0x0001 battery (0.01 V), 0x0002 data usage, 0x0003
  battery %, 0x0004 charging (0 = yes), 0x0005 ICCID, 0x0007 HDOP (0.1), 0x2001 power (0.1 V).
  Any other type is an extended alarm code (0x0C01 sos, 0x0406 vibration, ... see
  ``JIMI_E8_ALARMS``) or ignition on/off (0x0C03/0x0C04); the bytes after it are not decoded.
* 0xEB: either cell towers (MCC WORD, MNC BYTE, then 5-byte cells; kept raw), or a printable
  time-zone string (``UTC+08:00``), or nested items (length WORD counting the type, type WORD,
  value): 0x0001 fuel1, 0x0023 fuel2 (ASCII), 0x002D battery (WORD, mV) or power (DWORD, mV),
  0x0089 and 0x00C5 active-low alarm bits, 0x00A8/0x00E1 battery %, 0x00B2 ICCID, 0x00C6
  battery alarm, 0x00CE power (0.01 V), 0x00D5 IMEI.

A vendor item whose bytes do not fit that layout is kept raw (``Location.unknown``) instead
of failing the whole message; a standard item with an unexpected length is kept raw too.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import NoReturn

from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.messages import AdditionalInfo, Location
from trackstream_protocols.model import Fix
from trackstream_protocols.reader import ByteReader

__all__ = [
    "CHINA_STANDARD_TIME",
    "JIMI_E8_ALARMS",
    "LOCATION_BASIC_SIZE",
    "alarm_names",
    "decode_location",
    "decode_time",
]

#: JT/T 808 terminals report local time, GMT+8 unless configured otherwise
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "GMT+8")
LOCATION_BASIC_SIZE = 28

_ALARM_BITS: tuple[tuple[int, str], ...] = (
    (0, "sos"),
    (1, "overspeed"),
    (2, "fatigueDriving"),
    (4, "fault"),
    (5, "gpsAntennaCut"),
    (6, "gpsAntennaCut"),
    (7, "lowBattery"),
    (8, "powerOff"),
    (9, "fault"),
    (10, "fault"),
    (11, "fault"),
    (15, "vibration"),
    (16, "tampering"),
    (17, "tampering"),
    (18, "lowBattery"),
    (19, "parking"),
    (20, "geofence"),
    (26, "general"),
    (28, "movement"),
    (29, "accident"),
    (30, "accident"),
)

#: Jimi 0xE8 extended alarm codes -> Traccar alarm names
JIMI_E8_ALARMS: dict[int, str] = {
    0x0001: "fault",
    0x0400: "hardAcceleration",
    0x0412: "hardAcceleration",
    0x0401: "hardBraking",
    0x0413: "hardBraking",
    0x0402: "hardCornering",
    0x0414: "hardCornering",
    0x0403: "overspeed",
    0x0405: "accident",
    0x0416: "accident",
    0x0417: "accident",
    0x0406: "vibration",
    0x0407: "tow",
    0x0408: "geofenceEnter",
    0x0409: "geofenceExit",
    0x040C: "door",
    0x0415: "laneChange",
    0x0C01: "sos",
    0x0C02: "lowPower",
    0x0C05: "general",
    0x0C0E: "powerCut",
    0x0C0F: "lowBattery",
    0x0C10: "powerOff",
    0x0C12: "tampering",
}

_STATUS_IGNITION = 1 << 0
_STATUS_VALID = 1 << 1
_STATUS_SOUTH = 1 << 2
_STATUS_WEST = 1 << 3
_STATUS_OIL_CUT = 1 << 10


def alarm_names(flags: int) -> list[str]:
    """Traccar alarm names for the bits set in a 0x0200 alarm DWORD (no duplicates)."""
    names: list[str] = []
    if not flags:
        return names
    for bit, name in _ALARM_BITS:
        if flags >> bit & 1 and name not in names:
            names.append(name)
    return names


#: byte -> the number its two BCD digits make (0..99), or 0xFF for a byte that is not BCD
_BCD_VALUE = bytes(
    (b >> 4) * 10 + (b & 0x0F) if b >> 4 <= 9 and b & 0x0F <= 9 else 0xFF for b in range(256)
)


def decode_time(raw: bytes, tz: tzinfo) -> datetime:
    """BCD ``YYMMDDhhmmss`` in ``tz`` -> an aware UTC datetime."""
    values = raw.translate(_BCD_VALUE)
    if len(values) != 6 or 0xFF in values:
        raise ProtocolError(f"time {raw.hex()} is not 6 BCD bytes")
    yy, mo, dd, hh, mi, ss = values
    try:
        if type(tz) is timezone:  # a fixed offset (GMT+8 by default): subtract it, no tz lookup
            return datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC) - tz.utcoffset(None)
        local = datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=tz)
    except ValueError as exc:
        raise ProtocolError(f"time {raw.hex()} is not a valid date") from exc
    return local.astimezone(UTC)


class _Decoded:
    """Attributes and alarms collected from one location block."""

    __slots__ = ("alarms", "attributes")

    def __init__(self) -> None:
        self.attributes: dict[str, object] = {}
        self.alarms: list[str] = []


def _u(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _standard_item(item_id: int, value: bytes, attrs: dict[str, object]) -> bool:
    size = len(value)
    if item_id == 0x01 and size == 4:
        attrs["odometer"] = _u(value) * 100  # 0.1 km -> m
    elif item_id == 0x02 and size == 2:
        fuel = _u(value)
        attrs["fuel"] = fuel & 0x7FFF if fuel & 0x8000 else fuel / 10.0  # 0.1 L
    elif item_id == 0x03 and size == 2:
        attrs["obdSpeed"] = _u(value) / 10.0  # vehicle (tachograph) speed, km/h
    elif item_id == 0x14 and size == 4:
        attrs["videoAlarm"] = _u(value)
    elif item_id == 0x25 and size == 4:
        attrs["input"] = _u(value)  # extended vehicle signal bits
    elif item_id == 0x2A and size == 2:
        attrs["ioStatus"] = _u(value)  # bit 0 deep sleep, bit 1 sleep
    elif item_id == 0x2B and size == 4:
        analog = _u(value)
        attrs["adc1"] = analog & 0xFFFF  # AD0, raw
        attrs["adc2"] = analog >> 16  # AD1, raw
    elif item_id == 0x30 and size == 1:
        attrs["rssi"] = value[0]
    elif item_id == 0x31 and size == 1:
        attrs["sat"] = value[0]
    else:
        return False
    return True


def _jimi_e8(value: bytes, out: _Decoded) -> bool:
    r = ByteReader(value, "0xE8 item")
    kind = r.u16()
    attrs = out.attributes
    if kind == 0x2002:
        r.u8()  # length
        attrs["uploadMode"] = r.u8()
        attrs["buffered"] = r.u8() == 1
    elif kind == 0x2003:
        r.u8()  # length
        attrs["charge"] = r.u8() == 1
        steps = r.u8()
        if 1 <= steps <= 6:
            attrs["batteryLevel"] = steps * 100 // 6
        attrs["battery"] = r.u16() / 100.0
        attrs["rssi"] = r.u8()
        attrs["power"] = r.u16() / 100.0
    elif kind == 0x2005:
        r.u8()  # length
        while r.remaining:
            status_id, size = r.u16(), r.u8()
            item = ByteReader(r.read(size), f"0xE8 status 0x{status_id:04X}")
            if status_id == 0x0001:
                attrs["battery"] = item.u16() / 100.0
            elif status_id == 0x0002:
                attrs["dataUsage"] = item.u32()
            elif status_id == 0x0003:
                attrs["batteryLevel"] = item.u8()
            elif status_id == 0x0004:
                attrs["charge"] = item.u8() == 0
            elif status_id == 0x0005:
                attrs["iccid"] = item.read(10).hex()[:19]
            elif status_id == 0x0007:
                attrs["hdop"] = item.u16() / 10.0
            elif status_id == 0x2001:
                attrs["power"] = item.u16() / 10.0
    elif kind == 0x0C03:
        attrs["ignition"] = True
    elif kind == 0x0C04:
        attrs["ignition"] = False
    elif kind in JIMI_E8_ALARMS:
        out.alarms.append(JIMI_E8_ALARMS[kind])
    else:
        return False
    return True


def _jimi_eb(value: bytes, out: _Decoded) -> bool:
    size = len(value)
    attrs = out.attributes
    if size >= 3 and _u(value[:2]) > 200 and (size - 3) % 5 == 0:
        return False  # cell towers: kept raw
    if size and all(0x20 <= b < 0x7F for b in value):
        attrs["timezone"] = value.decode("ascii")
        return True
    r = ByteReader(value, "0xEB item")
    while r.remaining:
        length = r.u16()
        item = ByteReader(r.read(length), "0xEB nested item")
        kind = item.u16()
        if kind == 0x0001:
            attrs["fuel1"] = item.u16() / 10.0
        elif kind == 0x0023:
            text = item.read(6).decode("ascii", "replace")
            try:
                attrs["fuel2"] = float(text)
            except ValueError as exc:
                raise ProtocolError(f"0xEB fuel2 {text!r} is not a number") from exc
        elif kind == 0x002D:
            if item.remaining >= 4:
                attrs["power"] = item.u32() / 1000.0
            else:
                attrs["battery"] = item.u16() / 1000.0
        elif kind == 0x0089:
            bits = item.u32()
            if not bits & 1:
                out.alarms.append("powerOff")
            if not bits >> 12 & 1:
                out.alarms.append("removing")
        elif kind == 0x00B2:
            attrs["iccid"] = item.read(10).hex().rstrip("f")
        elif kind == 0x00C5:
            bits = item.u32()
            if not bits >> 6 & 1:
                out.alarms.append("vibration")
            motion = bits >> 23 & 0x03
            if motion in (0, 1):
                attrs["motion"] = motion == 0
        elif kind == 0x00C6:
            level = item.u8()
            attrs["batteryAlarm"] = level
            if level in (3, 4):
                out.alarms.append("lowBattery")
        elif kind == 0x00CE:
            attrs["power"] = item.u16() / 100.0
        elif kind == 0x00D5:
            attrs["imei"] = item.rest().decode("ascii", "replace").strip("\x00 ")
        elif kind in (0x00A8, 0x00E1):
            attrs["batteryLevel"] = item.u8()
    return True


def _vendor_item(item_id: int, value: bytes, attrs: dict[str, object], alarms: list[str]) -> bool:
    """Decode a Jimi item into a scratch collector; keep it raw if it does not parse."""
    scratch = _Decoded()
    try:
        if item_id == 0xE8:
            decoded = _jimi_e8(value, scratch)
        elif item_id == 0xEB:
            decoded = _jimi_eb(value, scratch)
        else:
            return False
    except ProtocolError:
        return False
    if decoded:
        attrs.update(scratch.attributes)
        alarms.extend(scratch.alarms)
    return decoded


def decode_location(
    data: bytes,
    *,
    tz: tzinfo = CHINA_STANDARD_TIME,
    jimi_extensions: bool = True,
    archive: bool = False,
    strict_items: bool = False,
    what: str = "0x0200 location",
) -> Location:
    """Decode a location block (basic information + additional items) into a :class:`Location`.

    ``archive`` marks a position re-uploaded from the terminal's blind-area store. A truncated
    basic block raises :class:`ProtocolError`; bytes after the last whole additional item
    (some terminals append fixed vendor tails) are kept in ``Location.trailing``, or raise
    when ``strict_items`` is set.
    """
    if type(data) is not bytes:
        data = bytes(data)
    size = len(data)
    if size < LOCATION_BASIC_SIZE:
        _truncated_basic(data, what)
    alarm, status, lat_raw, lon_raw, altitude_raw, speed_raw, course, bcd = _BASIC.unpack_from(data)
    fix_time = decode_time(bcd, tz)

    attrs: dict[str, object] = {
        "status": status,
        "ignition": bool(status & _STATUS_IGNITION),
        "blocked": bool(status & _STATUS_OIL_CUT),
    }
    alarms = alarm_names(alarm)

    extras: list[AdditionalInfo] = []
    unknown: list[AdditionalInfo] = []
    trailing = b""
    pos = LOCATION_BASIC_SIZE
    while pos < size:
        if size - pos < 2 or data[pos + 1] > size - pos - 2:
            trailing = data[pos:]
            if strict_items:
                raise ProtocolError(
                    f"{what}: truncated additional item, {len(trailing)} bytes left "
                    f"({trailing[:8].hex()}...)"
                )
            break
        item_id = data[pos]
        end = pos + 2 + data[pos + 1]
        value = data[pos + 2 : end]
        pos = end
        info = AdditionalInfo(item_id, value)
        extras.append(info)
        # the items nearly every terminal sends, inline; the rest as _standard_item decodes them
        length = len(value)
        if item_id == 0x01 and length == 4:
            attrs["odometer"] = int.from_bytes(value, "big") * 100  # 0.1 km -> m
        elif item_id == 0x30 and length == 1:
            attrs["rssi"] = value[0]
        elif item_id == 0x31 and length == 1:
            attrs["sat"] = value[0]
        elif not (
            _standard_item(item_id, value, attrs)
            or (jimi_extensions and _vendor_item(item_id, value, attrs, alarms))
        ):
            unknown.append(info)

    if alarms:
        attrs["alarm"] = ",".join(dict.fromkeys(alarms))
    if archive:
        attrs["archive"] = True
    latitude = lat_raw / 1e6 * (-1 if status & _STATUS_SOUTH else 1)
    longitude = lon_raw / 1e6 * (-1 if status & _STATUS_WEST else 1)
    altitude = -(altitude_raw & 0x7FFF) if altitude_raw & 0x8000 else altitude_raw
    satellites = attrs.get("sat")
    fix = Fix(  # positional: fix_time, latitude, longitude, speed, course, valid, sats, altitude
        fix_time,
        latitude,
        longitude,
        speed_raw / 10.0,
        float(course),
        bool(status & _STATUS_VALID),
        satellites if isinstance(satellites, int) else None,
        float(altitude),
        attrs,
    )
    return Location(fix, alarm, status, tuple(extras), tuple(unknown), trailing)


#: alarm, status, latitude, longitude, altitude, speed, direction, BCD time
_BASIC = struct.Struct(">IIIIHHH6s")
assert _BASIC.size == LOCATION_BASIC_SIZE


def _truncated_basic(data: bytes, what: str) -> NoReturn:
    """Raise the error for a basic block shorter than 28 bytes, naming the field that is cut."""
    r = ByteReader(data, what)
    r.u32(), r.u32(), r.u32(), r.u32()  # alarm, status, latitude, longitude
    r.u16(), r.u16(), r.u16()  # altitude, speed, direction
    r.read(6)  # time
    raise AssertionError("unreachable: the block was long enough")
