"""Platform -> terminal messages: framing (header, check byte, escaping) and message bodies.

Every encoder takes the :class:`Jt808Address` of the terminal (``packet.header.address``) so
replies reuse the terminal's header edition and phone bytes, and the platform's own serial
number for the message (the caller keeps that counter per connection). Arguments that cannot
be encoded raise :class:`ProtocolError`.

Body layouts (JT/T 808-2013; 2019 differences noted):

* 0x8001 general response: reply serial WORD, reply id WORD, result BYTE.
* 0x8003 re-send request: first serial WORD, count BYTE (2019: WORD), package indexes WORD[n].
* 0x8100 register response: reply serial WORD, result BYTE, auth code STRING (on success).
* 0x8103 set parameters: count BYTE, then id DWORD, length BYTE, value.
* 0x8105 terminal control: command BYTE, parameters STRING (``;``-separated).
* 0x8300 text message: flags BYTE, [2019: text type BYTE], text STRING (GBK).
* 0x8800 multimedia response: media id DWORD, count BYTE, package indexes WORD[n].
* 0x8801 take photo: channel BYTE, command WORD (0 stop, 0xFFFF record video, else photo
  count), interval or recording seconds WORD, save flag BYTE (1 save, 0 upload now),
  resolution BYTE, quality BYTE (1 best .. 10), brightness, contrast, saturation, chroma BYTE.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.framing import FLAG, escape, xor_checksum
from trackstream_protocols.jt808.header import MAX_BODY_LENGTH, Jt808Address
from trackstream_protocols.jt808.messages import (
    GeneralResult,
    MsgId,
    RegisterResult,
    TerminalControlCommand,
)

__all__ = [
    "Jt808Parameter",
    "ParamType",
    "PhotoResolution",
    "encode_frame",
    "encode_frames",
    "encode_general_response",
    "encode_multimedia_response",
    "encode_register_response",
    "encode_resend_request",
    "encode_set_parameters",
    "encode_take_photo",
    "encode_terminal_control",
    "encode_text_message",
    "standard_parameter",
]

_FLAG = bytes([FLAG])


def _check(name: str, value: int, high: int, low: int = 0) -> int:
    if not low <= value <= high:
        raise ProtocolError(f"{name} {value} is outside {low}..{high}")
    return value


def encode_frame(
    to: Jt808Address,
    msg_id: int,
    serial: int,
    body: bytes,
    *,
    packet: tuple[int, int] | None = None,
) -> bytes:
    """One escaped ``7E ... 7E`` frame; ``packet`` = (total, index) marks a sub-package."""
    _check("message id", msg_id, 0xFFFF)
    _check("serial", serial, 0xFFFF)
    if len(body) > MAX_BODY_LENGTH:
        raise ProtocolError(f"body of {len(body)} bytes needs sub-packages (encode_frames)")
    props = len(body)
    if to.protocol_version is not None:
        props |= 0x4000
    if packet is not None:
        props |= 0x2000
    head = struct.pack(">HH", msg_id, props)
    if to.protocol_version is not None:
        head += bytes([to.protocol_version])
    head += to.phone_bcd + struct.pack(">H", serial)
    if packet is not None:
        total, index = packet
        _check("package total", total, 0xFFFF, 1)
        _check("package index", index, total, 1)
        head += struct.pack(">HH", total, index)
    content = head + body
    return _FLAG + escape(content + bytes([xor_checksum(content)])) + _FLAG


def encode_frames(
    to: Jt808Address,
    msg_id: int,
    first_serial: int,
    body: bytes,
    *,
    max_body: int = MAX_BODY_LENGTH,
) -> list[bytes]:
    """``body`` as one frame, or as sub-packages of at most ``max_body`` bytes with
    consecutive serials starting at ``first_serial`` (as the standard numbers them)."""
    _check("max body", max_body, MAX_BODY_LENGTH, 1)
    if len(body) <= max_body:
        return [encode_frame(to, msg_id, first_serial, body)]
    chunks = [body[i : i + max_body] for i in range(0, len(body), max_body)]
    total = len(chunks)
    _check("package count", total, 0xFFFF, 1)
    return [
        encode_frame(to, msg_id, (first_serial + i) & 0xFFFF, chunk, packet=(total, i + 1))
        for i, chunk in enumerate(chunks)
    ]


def encode_general_response(
    to: Jt808Address,
    serial: int,
    *,
    reply_serial: int,
    reply_msg_id: int,
    result: GeneralResult = GeneralResult.SUCCESS,
) -> bytes:
    """0x8001 platform general response."""
    _check("reply serial", reply_serial, 0xFFFF)
    _check("reply id", reply_msg_id, 0xFFFF)
    body = struct.pack(">HHB", reply_serial, reply_msg_id, _check("result", result, 0xFF))
    return encode_frame(to, MsgId.PLATFORM_RESPONSE, serial, body)


def encode_register_response(
    to: Jt808Address,
    serial: int,
    *,
    reply_serial: int,
    result: RegisterResult = RegisterResult.SUCCESS,
    auth_code: str = "",
) -> bytes:
    """0x8100 register response; ``auth_code`` is required (and only sent) on success."""
    _check("reply serial", reply_serial, 0xFFFF)
    body = struct.pack(">HB", reply_serial, _check("result", result, 0xFF))
    if result == RegisterResult.SUCCESS:
        if not auth_code:
            raise ProtocolError("a successful register response needs an auth code")
        body += auth_code.encode("gbk")
    return encode_frame(to, MsgId.REGISTER_RESPONSE, serial, body)


def _indexes(ids: Iterable[int], limit: int) -> list[int]:
    out = [_check("package index", i, 0xFFFF, 1) for i in ids]
    if len(out) > limit:
        raise ProtocolError(f"{len(out)} package indexes, at most {limit} fit")
    return out


def encode_multimedia_response(
    to: Jt808Address, serial: int, *, media_id: int, retransmit: Iterable[int] = ()
) -> bytes:
    """0x8800 multimedia upload response; ``retransmit`` lists package indexes to resend
    (empty: everything arrived)."""
    ids = _indexes(retransmit, 0xFF)
    body = struct.pack(">IB", _check("media id", media_id, 0xFFFFFFFF), len(ids))
    body += b"".join(struct.pack(">H", i) for i in ids)
    return encode_frame(to, MsgId.MULTIMEDIA_RESPONSE, serial, body)


def encode_resend_request(
    to: Jt808Address, serial: int, *, first_serial: int, packet_ids: Iterable[int]
) -> bytes:
    """0x8003 request to re-send sub-packages of the message whose first package had
    ``first_serial``."""
    ids = _indexes(packet_ids, 0xFFFF if to.is_2019 else 0xFF)
    if not ids:
        raise ProtocolError("a re-send request needs at least one package index")
    count = struct.pack(">H", len(ids)) if to.is_2019 else bytes([len(ids)])
    body = struct.pack(">H", _check("first serial", first_serial, 0xFFFF)) + count
    body += b"".join(struct.pack(">H", i) for i in ids)
    return encode_frame(to, MsgId.RESEND_REQUEST, serial, body)


def encode_terminal_control(
    to: Jt808Address,
    serial: int,
    *,
    command: TerminalControlCommand | int,
    params: str = "",
) -> bytes:
    """0x8105 terminal control: ``command`` word and its ``;``-separated parameters
    (vendors also use command words above 0x7F, e.g. 0x64/0x65 relay on some trackers)."""
    body = bytes([_check("command", command, 0xFF)]) + params.encode("gbk")
    return encode_frame(to, MsgId.TERMINAL_CONTROL, serial, body)


def encode_text_message(
    to: Jt808Address,
    serial: int,
    *,
    text: str,
    flags: int = 0x04,
    text_type: int = 1,
) -> bytes:
    """0x8300 text message. ``flags``: bit 0 emergency, 2 show on terminal display (default),
    3 text-to-speech, 5 CAN fault (2013) / 2019 bits 5 and 6 unused. ``text_type`` (2019
    header only): 1 notice, 2 service."""
    body = bytes([_check("flags", flags, 0xFF)])
    if to.is_2019:
        body += bytes([_check("text type", text_type, 0xFF)])
    body += text.encode("gbk")
    return encode_frame(to, MsgId.TEXT_MESSAGE, serial, body)


class ParamType(Enum):
    """Value types of 0x8103 terminal parameters."""

    BYTE = 1
    WORD = 2
    DWORD = 4
    STRING = 0
    BYTES = -1


@dataclass(frozen=True, slots=True)
class Jt808Parameter:
    """One 0x8103 parameter: id, type and value (int for numbers, str or bytes otherwise)."""

    id: int
    type: ParamType
    value: int | str | bytes

    def encode(self) -> bytes:
        _check("parameter id", self.id, 0xFFFFFFFF)
        if self.type in (ParamType.BYTE, ParamType.WORD, ParamType.DWORD):
            if not isinstance(self.value, int):
                raise ProtocolError(f"parameter 0x{self.id:04X} needs an integer")
            size = self.type.value
            raw = _check(f"parameter 0x{self.id:04X}", self.value, 256**size - 1).to_bytes(
                size, "big"
            )
        elif isinstance(self.value, str):
            raw = self.value.encode("gbk")
        elif isinstance(self.value, bytes):
            raw = self.value
        else:
            raise ProtocolError(f"parameter 0x{self.id:04X} needs text or bytes")
        if len(raw) > 0xFF:
            raise ProtocolError(f"parameter 0x{self.id:04X} value is longer than 255 bytes")
        return struct.pack(">IB", self.id, len(raw)) + raw


#: types of common standard parameters (JT/T 808-2013 table 12)
STANDARD_PARAMETER_TYPES: dict[int, ParamType] = {
    0x0001: ParamType.DWORD,  # heartbeat interval, s
    0x0002: ParamType.DWORD,  # TCP response timeout, s
    0x0003: ParamType.DWORD,  # TCP retransmissions
    0x0010: ParamType.STRING,  # main server APN
    0x0013: ParamType.STRING,  # main server address
    0x0017: ParamType.STRING,  # backup server address
    0x0018: ParamType.DWORD,  # server TCP port (2013)
    0x0020: ParamType.DWORD,  # reporting strategy
    0x0021: ParamType.DWORD,  # reporting scheme
    0x0027: ParamType.DWORD,  # report interval while sleeping, s
    0x0028: ParamType.DWORD,  # report interval in emergency, s
    0x0029: ParamType.DWORD,  # default report interval, s
    0x002C: ParamType.DWORD,  # default report distance, m
    0x0030: ParamType.DWORD,  # corner retransmission angle, degrees
    0x0031: ParamType.WORD,  # electronic fence radius, m
    0x0055: ParamType.DWORD,  # maximum speed, km/h
    0x0056: ParamType.DWORD,  # overspeed duration, s
    0x0057: ParamType.DWORD,  # continuous driving limit, s
    0x005B: ParamType.WORD,  # overspeed warning difference, 0.1 km/h
    0x0080: ParamType.DWORD,  # odometer, 0.1 km
    0x0081: ParamType.WORD,  # province id
    0x0082: ParamType.WORD,  # city id
    0x0083: ParamType.STRING,  # plate
    0x0084: ParamType.BYTE,  # plate colour
    0x0090: ParamType.BYTE,  # GNSS positioning mode
}


def standard_parameter(param_id: int, value: int | str | bytes) -> Jt808Parameter:
    """A parameter whose type comes from :data:`STANDARD_PARAMETER_TYPES`."""
    kind = STANDARD_PARAMETER_TYPES.get(param_id)
    if kind is None:
        raise ProtocolError(f"parameter 0x{param_id:04X} has no known type; use Jt808Parameter")
    return Jt808Parameter(param_id, kind, value)


def encode_set_parameters(
    to: Jt808Address, serial: int, parameters: Sequence[Jt808Parameter]
) -> list[bytes]:
    """0x8103 set terminal parameters (sub-packaged when longer than one body)."""
    if not 1 <= len(parameters) <= 0xFF:
        raise ProtocolError("0x8103 carries 1..255 parameters")
    body = bytes([len(parameters)]) + b"".join(p.encode() for p in parameters)
    return encode_frames(to, MsgId.SET_PARAMETERS, serial, body)


class PhotoResolution(Enum):
    """0x8801 resolution codes."""

    R320X240 = 1
    R640X480 = 2
    R800X600 = 3
    R1024X768 = 4
    R176X144 = 5  # QCIF
    R352X288 = 6  # CIF
    R704X288 = 7  # HALF D1
    R704X576 = 8  # D1


def encode_take_photo(
    to: Jt808Address,
    serial: int,
    *,
    channel: int,
    count: int = 1,
    interval_s: int = 0,
    save: bool = False,
    resolution: PhotoResolution | int = PhotoResolution.R640X480,
    quality: int = 5,
    brightness: int = 128,
    contrast: int = 64,
    saturation: int = 64,
    chroma: int = 128,
) -> bytes:
    """0x8801 take photo (``count`` 0 stops, 0xFFFF records video for ``interval_s``)."""
    res = resolution.value if isinstance(resolution, PhotoResolution) else resolution
    body = struct.pack(
        ">BHHBBBBBBB",
        _check("channel", channel, 0xFF),
        _check("count", count, 0xFFFF),
        _check("interval", interval_s, 0xFFFF),
        1 if save else 0,
        _check("resolution", res, 0xFF),
        _check("quality", quality, 10, 1),
        _check("brightness", brightness, 255),
        _check("contrast", contrast, 127),
        _check("saturation", saturation, 127),
        _check("chroma", chroma, 255),
    )
    return encode_frame(to, MsgId.TAKE_PHOTO, serial, body)
