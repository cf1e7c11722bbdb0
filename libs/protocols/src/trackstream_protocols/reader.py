"""A bounds-checked big-endian reader over one frame's bytes, shared by the codecs.

Every read past the end raises :class:`ProtocolError` naming what was being read, so a truncated
frame can never surface as ``IndexError`` or ``struct.error``. Protocol-neutral: GT06 and
JT/T 808 are both big-endian ("network order") binary protocols.
"""

from __future__ import annotations

import struct
from typing import NoReturn

from trackstream_protocols.errors import ProtocolError

__all__ = ["ByteReader"]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class ByteReader:
    """Sequential reads of unsigned big-endian integers and byte strings from ``data``.

    ``what`` names the data in error messages (``"GT06 0x22 content"``).
    """

    __slots__ = ("_data", "_pos", "what")

    def __init__(self, data: bytes, what: str = "data") -> None:
        self._data = bytes(data)
        self._pos = 0
        self.what = what

    @property
    def position(self) -> int:
        """Offset of the next byte to read."""
        return self._pos

    @property
    def remaining(self) -> int:
        """How many bytes are left."""
        return len(self._data) - self._pos

    def _take(self, n: int, field: str) -> bytes:
        if n < 0:
            raise ProtocolError(f"{self.what}: negative length {n} for {field}")
        pos = self._pos
        end = pos + n
        if end > len(self._data):
            self._short(n, field)
        self._pos = end
        return self._data[pos:end]

    def _short(self, n: int, field: str) -> NoReturn:
        raise ProtocolError(
            f"{self.what} truncated: {field} needs {n} bytes at offset {self._pos}, "
            f"{self.remaining} left"
        )

    def read(self, n: int, field: str = "bytes") -> bytes:
        """The next ``n`` bytes."""
        return self._take(n, field)

    def uint(self, n: int, field: str = "integer") -> int:
        """The next ``n`` bytes as an unsigned big-endian integer."""
        return int.from_bytes(self._take(n, field), "big")

    def u8(self, field: str = "byte") -> int:
        pos = self._pos
        if pos >= len(self._data):
            self._short(1, field)
        self._pos = pos + 1
        return self._data[pos]

    def u16(self, field: str = "word") -> int:
        pos = self._pos
        if pos + 2 > len(self._data):
            self._short(2, field)
        self._pos = pos + 2
        return _U16.unpack_from(self._data, pos)[0]  # type: ignore[no-any-return]

    def u24(self, field: str = "3-byte integer") -> int:
        return self.uint(3, field)

    def u32(self, field: str = "double word") -> int:
        pos = self._pos
        if pos + 4 > len(self._data):
            self._short(4, field)
        self._pos = pos + 4
        return _U32.unpack_from(self._data, pos)[0]  # type: ignore[no-any-return]

    def skip(self, n: int, field: str = "skipped bytes") -> None:
        self._take(n, field)

    def rest(self) -> bytes:
        """Everything not read yet (possibly empty)."""
        return self._take(self.remaining, "rest")

    def peek(self, n: int = 1) -> bytes:
        """Up to ``n`` next bytes without consuming them (shorter at the end)."""
        return self._data[self._pos : self._pos + n]

    def sub(self, n: int, field: str) -> ByteReader:
        """A reader over the next ``n`` bytes (consumed here), for length-prefixed blocks."""
        return ByteReader(self._take(n, field), f"{self.what} {field}")
