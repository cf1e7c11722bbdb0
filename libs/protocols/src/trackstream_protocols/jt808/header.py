"""The JT/T 808 message header, 2013 and 2019 editions, and the address a reply goes to.

Header layout (all big-endian):

======================  ==========  ==========================================================
field                   2013        2019
======================  ==========  ==========================================================
message id              WORD        WORD
properties              WORD        WORD: bits 0-9 body length, 10-12 encryption (0 none,
                                    1 RSA), 13 sub-package, 14 version flag (set in 2019), 15
                                    reserved
protocol version        -           BYTE (only when bit 14 is set)
terminal phone          BCD[6]      BCD[10]
serial number           WORD        WORD
package total / index   WORD, WORD  WORD, WORD (only when bit 13 is set; index counts from 1)
======================  ==========  ==========================================================

Some 2013 terminals set bit 14 anyway (SmallChi/JT808 keeps such a capture in
``JT808_0x0102_2013Force``). When the body length then only matches the 2013 layout, the header
is read as 2013.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from trackstream_protocols.bcd import encode_bcd, is_bcd
from trackstream_protocols.errors import ProtocolError

__all__ = ["MAX_BODY_LENGTH", "Jt808Address", "Jt808Header", "parse_header"]

MAX_BODY_LENGTH = 0x3FF
_PHONE_2013 = 6
_PHONE_2019 = 10
_SUBPACKAGE = 0x2000
_VERSION_FLAG = 0x4000


def _luhn_digit(number: int) -> int:
    total = 0
    for i, ch in enumerate(reversed(str(number))):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


@dataclass(frozen=True, slots=True)
class Jt808Address:
    """Where a downlink goes: the terminal's phone bytes and header edition, as it used them.

    ``protocol_version`` None means the 2013 header (6-byte phone); an int means the 2019
    header (10-byte phone) carrying that protocol version byte.
    """

    phone_bcd: bytes
    protocol_version: int | None = None

    def __post_init__(self) -> None:
        width = _PHONE_2013 if self.protocol_version is None else _PHONE_2019
        if len(self.phone_bcd) != width:
            raise ProtocolError(f"phone must be {width} bytes for this edition")
        if self.protocol_version is not None and not 0 <= self.protocol_version <= 0xFF:
            raise ProtocolError("protocol version is one byte")

    @classmethod
    def from_phone(cls, phone: str, protocol_version: int | None = None) -> Jt808Address:
        """An address for ``phone`` digits; pass ``protocol_version`` for a 2019 header."""
        width = _PHONE_2013 if protocol_version is None else _PHONE_2019
        return cls(encode_bcd(phone, width), protocol_version)

    @property
    def is_2019(self) -> bool:
        return self.protocol_version is not None


@dataclass(slots=True)
class Jt808Header:
    """A decoded message header."""

    msg_id: int
    #: body length as declared in the properties word (the real body may differ)
    body_length: int
    #: encryption bits 10-12: 0 none, 1 RSA
    encryption: int
    #: bit 14 as received (a few 2013 terminals set it too)
    version_flag: bool
    #: the 2019 protocol version byte, None for a 2013 header
    protocol_version: int | None
    #: the terminal phone as sent: 6 bytes (2013) or 10 bytes (2019), normally BCD
    phone_bcd: bytes
    serial: int
    #: sub-package total and 1-based index, None unless bit 13 is set
    packet_total: int | None = None
    packet_index: int | None = None

    @property
    def is_2019(self) -> bool:
        return self.protocol_version is not None

    @property
    def edition(self) -> str:
        """``"2019"`` or ``"2013"`` (2011 terminals use the 2013 header too)."""
        return "2019" if self.is_2019 else "2013"

    @property
    def is_subpackage(self) -> bool:
        return self.packet_total is not None

    @property
    def size(self) -> int:
        """Header size in bytes."""
        return (
            4
            + (1 if self.is_2019 else 0)
            + len(self.phone_bcd)
            + 2
            + (4 if self.is_subpackage else 0)
        )

    @property
    def phone(self) -> str:
        """The phone field as hex digits: the phone number itself when it is BCD."""
        return self.phone_bcd.hex()

    @property
    def terminal_id(self) -> str:
        """The device identifier Traccar derives from the phone field.

        The BCD digits as sent; for a 6-byte field that is not BCD, the field read as a 48-bit
        number followed by its Luhn digit (an IMEI, as some trackers send it).
        """
        if is_bcd(self.phone_bcd) or len(self.phone_bcd) != _PHONE_2013:
            return self.phone
        number = int.from_bytes(self.phone_bcd, "big")
        return f"{number}{_luhn_digit(number)}"

    @property
    def address(self) -> Jt808Address:
        """Where replies to this message go (same edition and phone bytes)."""
        return Jt808Address(self.phone_bcd, self.protocol_version)


#: message id, properties, 6-byte phone, serial: a whole 2013 header without sub-packaging
_HEADER_2013 = struct.Struct(">HH6sH")
_SIZE_2013 = _HEADER_2013.size


def parse_header(content: bytes) -> tuple[Jt808Header, bytes]:
    """Split un-escaped frame ``content`` (no check byte) into its header and body."""
    if type(content) is bytes and len(content) >= _SIZE_2013:
        msg_id, props, phone, serial = _HEADER_2013.unpack_from(content)
        if not props & (_SUBPACKAGE | _VERSION_FLAG):  # the usual 2013 header: one unpack
            header = Jt808Header(
                msg_id, props & MAX_BODY_LENGTH, (props >> 10) & 0x07, False, None, phone, serial
            )
            return header, content[_SIZE_2013:]
    if len(content) < 12:
        raise ProtocolError(f"header needs 12 bytes, frame has {len(content)}")
    msg_id, props = struct.unpack_from(">HH", content)
    body_length = props & MAX_BODY_LENGTH
    encryption = (props >> 10) & 0x07
    sub = bool(props & _SUBPACKAGE)
    version_flag = bool(props & _VERSION_FLAG)
    extra = 4 if sub else 0
    v2019 = version_flag
    if version_flag:
        size_2019, size_2013 = 17 + extra, 12 + extra
        if len(content) - size_2019 != body_length and len(content) - size_2013 == body_length:
            v2019 = False  # bit 14 set by a 2013 terminal: the length says 2013 layout
    pos = 4
    protocol_version: int | None = None
    if v2019:
        if len(content) < 17 + extra:
            raise ProtocolError(f"2019 header needs {17 + extra} bytes, frame has {len(content)}")
        protocol_version = content[4]
        pos = 5
    width = _PHONE_2019 if v2019 else _PHONE_2013
    phone = bytes(content[pos : pos + width])
    pos += width
    if len(content) < pos + 2 + extra:
        raise ProtocolError(f"header needs {pos + 2 + extra} bytes, frame has {len(content)}")
    (serial,) = struct.unpack_from(">H", content, pos)
    pos += 2
    total: int | None = None
    index: int | None = None
    if sub:
        total, index = struct.unpack_from(">HH", content, pos)
        pos += 4
        if total < 1 or not 1 <= index <= total:
            raise ProtocolError(f"sub-package index {index} of {total} is out of range")
    header = Jt808Header(
        msg_id=msg_id,
        body_length=body_length,
        encryption=encryption,
        version_flag=version_flag,
        protocol_version=protocol_version,
        phone_bcd=phone,
        serial=serial,
        packet_total=total,
        packet_index=index,
    )
    return header, bytes(content[pos:])
