"""Baseline for benchmarks: the least code that gets a position out of a JT/T 808 0x0200 frame.

The counterpart of :mod:`benchmarks.reference.gt06_struct`: one escaped ``7E ... 7E`` frame of a
2013 terminal (12-byte header), un-escaped with two ``replace`` calls, then one ``struct`` unpack
of the basic location block and the BCD time. No check byte, no header fields, no body length,
no additional items, no alarm or status decoding beyond the hemispheres; the terminal clock is
taken as GMT+8.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

# after 7E and the 2013 header: alarm, status, latitude, longitude, altitude, speed, direction
_BASIC = struct.Struct(">IIIIHHH6s")
_HEADER = 12
_GMT8 = timedelta(hours=8)


def decode_location(
    frame: bytes, offset: int = 1 + _HEADER
) -> tuple[datetime, float, float, float, int]:
    """(time UTC, latitude, longitude, speed km/h, course) of an escaped 2013 0x0200 frame
    (``offset`` 12 for the bytes between the 0x7E delimiters)."""
    if b"\x7d" in frame:
        frame = frame.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")
    _alarm, status, lat, lon, _alt, speed, course, bcd = _BASIC.unpack_from(frame, offset)
    latitude = lat / 1e6
    longitude = lon / 1e6
    if status & 0x04:
        latitude = -latitude
    if status & 0x08:
        longitude = -longitude
    digits = bcd.hex()
    when = datetime(
        2000 + int(digits[0:2]),
        int(digits[2:4]),
        int(digits[4:6]),
        int(digits[6:8]),
        int(digits[8:10]),
        int(digits[10:12]),
        tzinfo=UTC,
    )
    return when - _GMT8, latitude, longitude, speed / 10.0, course


def decode_stream(reads: Iterable[bytes]) -> int:
    """Second baseline: also find the frames in a TCP stream, minimally (``split`` on 0x7E,
    the part after the last 0x7E of a read carried over), and decode each; returns how many."""
    decoded = 0
    pending = b""
    for data in reads:
        parts = (pending + data).split(b"\x7e")
        pending = parts.pop()
        for part in parts:
            if part:  # between two frames
                decode_location(part, _HEADER)
                decoded += 1
    return decoded
