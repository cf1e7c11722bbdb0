"""GT06 responses and commands (server -> device). Pure: returns bytes, writes nothing.

Acknowledgement rules follow Traccar (protocols.md §4): login, heartbeats, every location, alarm,
LBS and Wi-Fi report, 0x15 and 0x95 are answered with ``78 78 05 <type> <serial> <crc> 0D 0A``;
the uncounted Wi-Fi reports with ``78 78 00 <type> <BCD time> 0D 0A``; 0x8A with the current UTC
time; 0x2A with an empty 0x97 address. 0x21, 0x94, command replies and unknown ``79 79`` types
are not answered. Ingest should send the acknowledgement only after the decoded data is durably
published; :func:`needs_ack` tells it whether there is one to send.
"""

from __future__ import annotations

from binascii import crc_hqx
from datetime import UTC, datetime

from trackstream_protocols.crc import BIT_REVERSED
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06.framing import WIFI_UNCOUNTED, Gt06Frame, crc16_x25
from trackstream_protocols.gt06.messages import Gt06Message, Gt06WifiReport, UnknownMessage

__all__ = [
    "ENGINE_RESUME",
    "ENGINE_STOP",
    "encode_ack",
    "encode_address_response",
    "encode_command",
    "encode_frame",
    "encode_time_response",
    "engine_resume_command",
    "engine_stop_command",
    "needs_ack",
]

UTC = UTC

#: Traccar's engineStop / engineResume texts (alternatives on some models: ``DYD,<password>#``
#: and ``HFYD,<password>#``, sent with :func:`encode_command`)
ENGINE_STOP = "Relay,1#"
ENGINE_RESUME = "Relay,0#"

_COMMAND = 0x80
_TIME = 0x8A
_ADDRESS_REQUEST = 0x2A
_ADDRESS_RESPONSE = 0x97
#: answered with a plain acknowledgement whatever the header
_ACKED = frozenset(
    {
        0x01, 0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x18, 0x19, 0x1A, 0x1E, 0x22, 0x23, 0x24,
        0x26, 0x27, 0x28, 0x2C, 0x2D, 0x2E, 0x31, 0x37, 0x40, 0x70, 0x95, 0xA0, 0xA1, 0xA2,
        0xA3, 0xA4, 0xA5, 0xF1, 0xF2,
    }
)  # fmt: skip
#: never answered
_NOT_ACKED = frozenset({0x21, 0x34, 0x38, 0x80, 0x81, 0x82, 0x8C, 0x94, 0x9B, 0xF3})


def encode_frame(
    protocol: int, content: bytes = b"", *, serial: int, extended: bool = False
) -> bytes:
    """A complete frame: header, length, ``protocol``, ``content``, serial, CRC, ``0D 0A``."""
    if not 0 <= protocol <= 0xFF:
        raise ProtocolError(f"protocol number {protocol} out of range")
    if not 0 <= serial <= 0xFFFF:
        raise ProtocolError(f"serial {serial} out of range 0..65535")
    length = 1 + len(content) + 4
    if extended:
        if length > 0xFFFF:
            raise ProtocolError(f"content of {len(content)} bytes too long for a 79 79 frame")
        start, length_field = b"\x79\x79", length.to_bytes(2, "big")
    else:
        if length > 0xFF:
            raise ProtocolError(f"content of {len(content)} bytes too long for a 78 78 frame")
        start, length_field = b"\x78\x78", bytes([length])
    body = length_field + bytes([protocol]) + content + serial.to_bytes(2, "big")
    return start + body + crc16_x25(body).to_bytes(2, "big") + b"\r\n"


def _ack_kind(protocol: int, serial: int | None, extended: bool) -> str | None:
    if protocol == _TIME:
        return "time"
    if protocol == _ADDRESS_REQUEST:
        return "address"
    if protocol in _NOT_ACKED:
        return None
    if serial is None:
        return "wifi" if protocol in WIFI_UNCOUNTED else None
    if protocol in _ACKED or not extended:
        return "plain"
    return None  # unknown 79 79 types


def _kind_of(item: Gt06Message | Gt06Frame) -> str | None:
    if isinstance(item, Gt06Frame):
        return _ack_kind(item.protocol, item.serial, item.extended)
    extended = item.extended if isinstance(item, UnknownMessage) else False
    return _ack_kind(item.protocol, item.serial, extended)


def needs_ack(item: Gt06Message | Gt06Frame) -> bool:
    """True when the device expects an answer to this message (see :func:`encode_ack`)."""
    return _kind_of(item) is not None


def encode_ack(item: Gt06Message | Gt06Frame, *, now: datetime | None = None) -> bytes | None:
    """The answer the device expects to ``item``, or None if it expects none.

    ``now`` is only used for the 0x8A time response (default: the current UTC time).
    """
    kind = _kind_of(item)
    if kind is None:
        return None
    serial = item.serial if item.serial is not None else 0
    if kind == "time":
        return encode_time_response(serial, now=now if now is not None else datetime.now(UTC))
    if kind == "address":
        return encode_address_response()
    if kind == "wifi":
        time_bcd: bytes | None = None
        if isinstance(item, Gt06Frame):
            time_bcd = item.content[:6]
        elif isinstance(item, Gt06WifiReport):
            time_bcd = item.time_bcd
        if time_bcd is None or len(time_bcd) != 6:
            return None
        return b"\x78\x78\x00" + bytes([item.protocol]) + time_bcd + b"\r\n"
    return _plain_ack(item.protocol, serial)


def _plain_ack(protocol: int, serial: int) -> bytes:
    """``encode_frame(protocol, serial=serial)`` for the empty ``78 78`` acknowledgement, with
    no concatenation of parts (one per received frame)."""
    if not (0 <= protocol <= 0xFF and 0 <= serial <= 0xFFFF):
        return encode_frame(protocol, serial=serial)  # raises the range error
    body = bytes((5, protocol, serial >> 8, serial & 0xFF))
    register = crc_hqx(body.translate(BIT_REVERSED), 0xFFFF)
    crc = (BIT_REVERSED[register & 0xFF] << 8 | BIT_REVERSED[register >> 8]) ^ 0xFFFF
    return b"\x78\x78" + body + bytes((crc >> 8, crc & 0xFF)) + b"\r\n"


def encode_time_response(serial: int, *, now: datetime) -> bytes:
    """0x8A answer: ``now`` (timezone-aware) as UTC YY MM DD hh mm ss, echoing ``serial``."""
    if now.tzinfo is None:
        raise ProtocolError("the time response needs a timezone-aware datetime")
    utc = now.astimezone(UTC)
    if not 2000 <= utc.year <= 2255:
        raise ProtocolError(f"year {utc.year} cannot be sent as GT06 time")
    content = bytes([utc.year - 2000, utc.month, utc.day, utc.hour, utc.minute, utc.second])
    return encode_frame(_TIME, content, serial=serial)


def encode_address_response(text: str = "NA&&NA&&0##") -> bytes:
    """0x97 answer to a 0x2A address request (Traccar sends the empty ``NA&&NA&&0##``)."""
    data = _ascii(text, "address")
    content = bytes([len(data)]) + (0).to_bytes(4, "big") + data
    return encode_frame(_ADDRESS_RESPONSE, content, serial=0, extended=True)


def _ascii(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise ProtocolError(f"GT06 {what} text must be ASCII: {text!r}") from None


def encode_command(
    text: str, *, serial: int, server_flag: int = 0, language: int | None = None
) -> bytes:
    """A 0x80 online command carrying ``text`` (an SMS-style command such as ``Relay,1#``).

    The device echoes ``server_flag`` in its 0x15/0x21 reply, so it can correlate the answer.
    ``language`` (1 Chinese, 2 English) appends the optional language word; Traccar's own
    encoder leaves it out.
    """
    data = _ascii(text, "command")
    if not 0 <= server_flag <= 0xFFFFFFFF:
        raise ProtocolError(f"server flag {server_flag} out of range")
    content = bytes([len(data) + 4]) if len(data) + 4 <= 0xFF else b""
    if not content:
        raise ProtocolError(f"command of {len(data)} characters is too long")
    content += server_flag.to_bytes(4, "big") + data
    if language is not None:
        if not 0 <= language <= 0xFFFF:
            raise ProtocolError(f"language {language} out of range")
        content += language.to_bytes(2, "big")
    return encode_frame(_COMMAND, content, serial=serial)


def engine_stop_command(*, serial: int, server_flag: int = 0) -> bytes:
    """Cut fuel/power (Traccar's engineStop): ``Relay,1#``."""
    return encode_command(ENGINE_STOP, serial=serial, server_flag=server_flag)


def engine_resume_command(*, serial: int, server_flag: int = 0) -> bytes:
    """Restore fuel/power (Traccar's engineResume): ``Relay,0#``."""
    return encode_command(ENGINE_RESUME, serial=serial, server_flag=server_flag)
