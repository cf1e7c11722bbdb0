"""Packed BCD (8421 code, two decimal digits per byte, high nibble first), shared by the codecs.

JT/T 808 carries the terminal phone number and timestamps as BCD, GT06 the IMEI. Everything
here is protocol-neutral and raises :class:`ProtocolError` on input that is not BCD. Those values
identify a device (or a person's phone), so error messages say what was wrong and where (sizes,
nibble offset), never the value itself (errors.py: "never whose").
"""

from __future__ import annotations

from trackstream_protocols.errors import ProtocolError

__all__ = ["bcd_to_int", "decode_bcd", "encode_bcd", "is_bcd"]


def is_bcd(data: bytes) -> bool:
    """True when every nibble of ``data`` is a decimal digit (0..9)."""
    return all((b >> 4) <= 9 and (b & 0x0F) <= 9 for b in data)


def decode_bcd(data: bytes) -> str:
    """The decimal digits of ``data`` (two per byte, leading zeros kept)."""
    digits = data.hex()
    bad = next((i for i, d in enumerate(digits) if d not in "0123456789"), None)
    if bad is not None:
        raise ProtocolError(f"not BCD: {len(data)} bytes, first non-decimal nibble at {bad}")
    return digits


def bcd_to_int(data: bytes) -> int:
    """The value of ``data`` read as a BCD number (``b"\\x20\\x24"`` -> 2024)."""
    return int(decode_bcd(data)) if data else 0


def encode_bcd(digits: str, size: int) -> bytes:
    """``digits`` as ``size`` bytes of BCD, left-padded with zeros.

    Raises :class:`ProtocolError` if ``digits`` holds anything but 0-9 or does not fit.
    """
    if digits and not (digits.isascii() and digits.isdigit()):
        raise ProtocolError(f"BCD needs decimal digits only, got {len(digits)} characters")
    if len(digits) > 2 * size:
        raise ProtocolError(f"{len(digits)} digits do not fit in {size} BCD bytes")
    return bytes.fromhex(digits.rjust(2 * size, "0"))
