"""JT/T 808 messages a terminal sends (terminal -> platform). Pure: returns bytes.

Framing (header for the address's edition, check byte, escaping) is the platform encoder's
:func:`~trackstream_protocols.jt808.encoder.encode_frame`: a terminal frame differs from a
platform frame only in its message id. Pass ``Jt808Address.from_phone(phone)`` for the 2013
header (6-byte phone) or ``Jt808Address.from_phone(phone, protocol_version=1)`` for 2019.

Body layouts (JT/T 808-2013; 2019 differences noted), as :mod:`.decoder` reads them:

* 0x0001 terminal general response: reply serial WORD, reply id WORD, result BYTE.
* 0x0002 heartbeat: empty.
* 0x0100 register: province WORD, city WORD, manufacturer BYTE[5] (2019: [11]), model BYTE[20]
  (2019: [30]), terminal id BYTE[7] (2019: [30]), plate colour BYTE, plate STRING (GBK);
  fixed-width fields are NUL-padded.
* 0x0102 authenticate: 2013 the code STRING; 2019 code length BYTE, code, IMEI BYTE[15],
  software version BYTE[20].
* 0x0200 location: alarm DWORD, status DWORD, latitude DWORD, longitude DWORD (1e-6 degree;
  hemispheres in status bits 2 and 3), altitude WORD (m), speed WORD (0.1 km/h), direction
  WORD, time BCD[6] in the terminal's zone; then additional items (id BYTE, length BYTE, value)
  in ascending id order: 0x01 mileage DWORD (0.1 km), 0x30 signal strength BYTE, 0x31 GNSS
  satellites BYTE.
* 0x0704 batch: count WORD, type BYTE (0 normal, 1 blind-area re-upload), then per item length
  WORD + a 0x0200 body.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from trackstream_protocols.bcd import encode_bcd
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.encoder import encode_frame
from trackstream_protocols.jt808.header import MAX_BODY_LENGTH, Jt808Address
from trackstream_protocols.jt808.location import CHINA_STANDARD_TIME
from trackstream_protocols.jt808.messages import GeneralResult, MsgId
from trackstream_protocols.model import Fix

__all__ = [
    "ALARM_OVERSPEED",
    "ALARM_POWER_CUT",
    "ALARM_SOS",
    "BATCH_BLIND_AREA",
    "BATCH_NORMAL",
    "STATUS_ACC",
    "STATUS_POSITIONED",
    "STATUS_SOUTH",
    "STATUS_WEST",
    "encode_authenticate",
    "encode_heartbeat",
    "encode_location",
    "encode_location_batch",
    "encode_register",
    "encode_terminal_response",
    "location_body",
    "split_batches",
    "status_flags",
]

#: alarm DWORD bits: emergency, overspeed, main power cut (Traccar reads bit 8 as powerOff)
ALARM_SOS = 1 << 0
ALARM_OVERSPEED = 1 << 1
ALARM_POWER_CUT = 1 << 8

#: status DWORD bits: ACC on, positioned, south latitude, west longitude
STATUS_ACC = 1 << 0
STATUS_POSITIONED = 1 << 1
STATUS_SOUTH = 1 << 2
STATUS_WEST = 1 << 3

#: 0x0704 batch types
BATCH_NORMAL = 0
BATCH_BLIND_AREA = 1

_ITEM_MILEAGE = 0x01
_ITEM_RSSI = 0x30
_ITEM_SATELLITES = 0x31
#: count WORD + type BYTE
_BATCH_HEAD = 3
#: per-item length WORD
_BATCH_ITEM_HEAD = 2


def _check(name: str, value: int, high: int) -> int:
    if not 0 <= value <= high:
        raise ProtocolError(f"{name} {value} is outside 0..{high}")
    return value


def _fixed(name: str, text: str, width: int) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > width:
        raise ProtocolError(f"{name} {text!r} is longer than {width} bytes")
    return raw.ljust(width, b"\x00")


def encode_terminal_response(
    to: Jt808Address,
    serial: int,
    *,
    reply_serial: int,
    reply_msg_id: int,
    result: GeneralResult | int = GeneralResult.SUCCESS,
) -> bytes:
    """0x0001 terminal general response to a platform message (e.g. 0x8300, 0x8105)."""
    body = struct.pack(
        ">HHB",
        _check("reply serial", reply_serial, 0xFFFF),
        _check("reply id", reply_msg_id, 0xFFFF),
        _check("result", result, 0xFF),
    )
    return encode_frame(to, MsgId.TERMINAL_RESPONSE, serial, body)


def encode_heartbeat(to: Jt808Address, serial: int) -> bytes:
    """0x0002 heartbeat (empty body)."""
    return encode_frame(to, MsgId.HEARTBEAT, serial, b"")


def encode_register(
    to: Jt808Address,
    serial: int,
    *,
    manufacturer_id: str,
    terminal_model: str,
    terminal_id: str,
    province_id: int = 0,
    city_id: int = 0,
    plate_color: int = 0,
    plate: str = "",
) -> bytes:
    """0x0100 terminal registration, in the layout of the address's edition."""
    widths = (11, 30, 30) if to.is_2019 else (5, 20, 7)
    body = (
        struct.pack(">HH", _check("province", province_id, 0xFFFF), _check("city", city_id, 0xFFFF))
        + _fixed("manufacturer id", manufacturer_id, widths[0])
        + _fixed("terminal model", terminal_model, widths[1])
        + _fixed("terminal id", terminal_id, widths[2])
        + bytes([_check("plate colour", plate_color, 0xFF)])
        + plate.encode("gbk")
    )
    return encode_frame(to, MsgId.REGISTER, serial, body)


def encode_authenticate(
    to: Jt808Address,
    serial: int,
    *,
    auth_code: str,
    imei: str = "",
    software_version: str = "",
) -> bytes:
    """0x0102 authentication with the code the 0x8100 register response handed out. The
    2019 layout also carries ``imei`` and ``software_version`` (NUL-padded)."""
    code = auth_code.encode("gbk")
    if not code:
        raise ProtocolError("an authentication needs a code")
    if to.is_2019:
        if len(code) > 0xFF:
            raise ProtocolError("a 2019 authentication code is at most 255 bytes")
        body = (
            bytes([len(code)])
            + code
            + _fixed("IMEI", imei, 15)
            + _fixed("software version", software_version, 20)
        )
    else:
        body = code
    return encode_frame(to, MsgId.AUTHENTICATE, serial, body)


def status_flags(fix: Fix, *, ignition: bool = False) -> int:
    """The status DWORD a location of ``fix`` carries: ACC, positioned, hemispheres."""
    flags = STATUS_ACC if ignition else 0
    if fix.valid:
        flags |= STATUS_POSITIONED
    if fix.latitude < 0:
        flags |= STATUS_SOUTH
    if fix.longitude < 0:
        flags |= STATUS_WEST
    return flags


def _bcd_time(when: datetime, tz: tzinfo) -> bytes:
    if when.tzinfo is None:
        raise ProtocolError("a fix time must be timezone-aware")
    local = when.astimezone(tz)
    if not 2000 <= local.year <= 2099:
        raise ProtocolError(f"year {local.year} cannot be sent as JT/T 808 time")
    return encode_bcd(local.strftime("%y%m%d%H%M%S"), 6)


def location_body(
    fix: Fix,
    *,
    alarm_flags: int = 0,
    ignition: bool = False,
    status: int | None = None,
    mileage_m: int | None = None,
    rssi: int | None = None,
    tz: tzinfo = CHINA_STANDARD_TIME,
    extra_items: Iterable[tuple[int, bytes]] = (),
) -> bytes:
    """The 0x0200 body (also a 0x0704 batch item) for ``fix``.

    ``status`` defaults to :func:`status_flags` (with ``ignition``); ``mileage_m`` is sent in
    0.1 km (rounded); ``fix.satellites`` and ``rssi`` become items 0x31 and 0x30 when set;
    ``extra_items`` (id, value) are added, and all items go out in ascending id order.
    """
    if not (-90.0 <= fix.latitude <= 90.0 and -180.0 <= fix.longitude <= 180.0):
        raise ProtocolError(f"position {fix.latitude},{fix.longitude} is out of range")
    flags = status_flags(fix, ignition=ignition) if status is None else status
    altitude = round(fix.altitude_m or 0.0)
    if not -0x7FFF <= altitude <= 0x7FFF:
        raise ProtocolError(f"altitude {altitude} m cannot be sent")
    altitude_word = (-altitude | 0x8000) if altitude < 0 else altitude
    speed = min(max(round(fix.speed_kmh * 10), 0), 0xFFFF)
    body = struct.pack(
        ">IIIIHHH",
        _check("alarm flags", alarm_flags, 0xFFFFFFFF),
        _check("status flags", flags, 0xFFFFFFFF),
        round(abs(fix.latitude) * 1e6),
        round(abs(fix.longitude) * 1e6),
        altitude_word,
        speed,
        round(fix.course_deg) % 360,
    ) + _bcd_time(fix.fix_time, tz)
    items: dict[int, bytes] = {}
    if mileage_m is not None:
        tenths_km = _check("mileage", round(mileage_m / 100), 0xFFFFFFFF)
        items[_ITEM_MILEAGE] = struct.pack(">I", tenths_km)
    if rssi is not None:
        items[_ITEM_RSSI] = bytes([_check("rssi", rssi, 0xFF)])
    if fix.satellites is not None:
        items[_ITEM_SATELLITES] = bytes([_check("satellites", fix.satellites, 0xFF)])
    for item_id, value in extra_items:
        if item_id in items:
            raise ProtocolError(f"additional item 0x{item_id:02X} given twice")
        _check("additional item id", item_id, 0xFF)
        _check(f"length of additional item 0x{item_id:02X}", len(value), 0xFF)
        items[item_id] = value
    for item_id in sorted(items):
        body += bytes([item_id, len(items[item_id])]) + items[item_id]
    return body


def encode_location(
    to: Jt808Address,
    serial: int,
    fix: Fix,
    *,
    alarm_flags: int = 0,
    ignition: bool = False,
    status: int | None = None,
    mileage_m: int | None = None,
    rssi: int | None = None,
    tz: tzinfo = CHINA_STANDARD_TIME,
    extra_items: Iterable[tuple[int, bytes]] = (),
) -> bytes:
    """0x0200 location report (the body is :func:`location_body`)."""
    body = location_body(
        fix,
        alarm_flags=alarm_flags,
        ignition=ignition,
        status=status,
        mileage_m=mileage_m,
        rssi=rssi,
        tz=tz,
        extra_items=extra_items,
    )
    return encode_frame(to, MsgId.LOCATION, serial, body)


def split_batches(bodies: Sequence[bytes], *, max_body: int = MAX_BODY_LENGTH) -> list[list[bytes]]:
    """Group location ``bodies``, in order, into as few 0x0704 batches as fit ``max_body``."""
    batches: list[list[bytes]] = []
    current: list[bytes] = []
    size = _BATCH_HEAD
    for body in bodies:
        item = _BATCH_ITEM_HEAD + len(body)
        if _BATCH_HEAD + item > max_body:
            raise ProtocolError(f"a location body of {len(body)} bytes does not fit a batch")
        if current and size + item > max_body:
            batches.append(current)
            current, size = [], _BATCH_HEAD
        current.append(body)
        size += item
    if current:
        batches.append(current)
    return batches


def encode_location_batch(
    to: Jt808Address,
    serial: int,
    bodies: Sequence[bytes],
    *,
    batch_type: int = BATCH_BLIND_AREA,
) -> bytes:
    """0x0704 batch of :func:`location_body` items; ``batch_type`` 1 (default) is the
    blind-area re-upload of positions recorded while offline. Too many bodies for one frame
    raise :class:`ProtocolError`: group them with :func:`split_batches` first."""
    if not bodies:
        raise ProtocolError("a batch needs at least one location")
    count = _check("count", len(bodies), 0xFFFF)
    body = struct.pack(">HB", count, _check("type", batch_type, 0xFF))
    for item in bodies:
        body += struct.pack(">H", _check("item length", len(item), 0xFFFF)) + item
    return encode_frame(to, MsgId.LOCATION_BATCH, serial, body)
