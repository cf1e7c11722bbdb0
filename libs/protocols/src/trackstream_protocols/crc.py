"""Check values the codecs verify, computed in C via the standard library.

* CRC-16/X.25 (GT06 calls it CRC-ITU): poly 0x1021 reflected, init and xorout 0xFFFF.
  :func:`binascii.crc_hqx` is the same polynomial unreflected (CRC-16/CCITT as XMODEM uses it);
  a reflected CRC is the unreflected one over bit-reversed bytes, bit-reversed at the end. So the
  bytes are bit-reversed with one :meth:`bytes.translate`, run through ``crc_hqx`` with init
  0xFFFF, and the 16-bit result is bit-reversed and inverted.
* The JT/T 808 check byte, the XOR of all bytes: ``functools.reduce`` over the bytes for the short
  frames that dominate traffic; longer data is read as one big integer that is folded in halves
  (each fold is one C-level operation over the whole number).
"""

from __future__ import annotations

from binascii import crc_hqx
from functools import reduce
from operator import xor

__all__ = ["BIT_REVERSED", "crc16_x25", "crc16_x25_register", "xor_checksum"]

#: byte -> the byte with its 8 bits in reverse order (a :meth:`bytes.translate` table)
BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16_x25_register(reversed_data: bytes) -> int:
    """The unreflected CRC register after ``reversed_data`` (bytes already bit-reversed).

    ``crc16_x25(data) == reflect16(crc16_x25_register(data.translate(BIT_REVERSED))) ^ 0xFFFF``.
    """
    return crc_hqx(reversed_data, 0xFFFF)


def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25: poly 0x1021 reflected, init and xorout 0xFFFF (``b"123456789"`` -> 0x906E)."""
    register = crc_hqx(data.translate(BIT_REVERSED), 0xFFFF)
    return (BIT_REVERSED[register & 0xFF] << 8 | BIT_REVERSED[register >> 8]) ^ 0xFFFF


# Below this size reduce() is as fast as folding (on CPython 3.11 they break even near 32 bytes).
_FOLD_FROM = 32


def xor_checksum(data: bytes) -> int:
    """The JT/T 808 check byte: XOR of all ``data`` bytes (0 for no bytes)."""
    size = len(data)
    if size < _FOLD_FROM:
        return reduce(xor, data, 0)
    value = int.from_bytes(data, "little")
    # XOR the upper half of the number onto the lower one until one byte is left. The bits above
    # each half are not cleared (that would cost a mask per step); they never reach lower bits.
    if size > 64:
        shift = 4 << (size - 1).bit_length()
        while shift > 256:
            value ^= value >> shift
            shift >>= 1
    # the last six halvings, unrolled: 64 bytes -> 1 (most frames end up here directly)
    value ^= value >> 256
    value ^= value >> 128
    value ^= value >> 64
    value ^= value >> 32
    value ^= value >> 16
    value ^= value >> 8
    return value & 0xFF
