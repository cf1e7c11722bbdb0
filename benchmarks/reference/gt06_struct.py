"""Baseline for benchmarks: the least code that gets a position out of a GT06 0x12/0x22 frame.

One ``struct`` unpack of the GPS block and nothing else: no framing, no CRC, no validation, no
device timezone, no LBS. The full decoder (``trackstream_protocols.gt06``) is measured against it.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

# after 78 78 LL proto: YY MM DD hh mm ss, GPS info, latitude, longitude, speed, course/status
_GPS = struct.Struct(">6BBIIBH")


def decode_gps_lbs(frame: bytes) -> tuple[datetime, float, float, int, int]:
    """(time UTC, latitude, longitude, speed km/h, course) of a ``78 78`` 0x12/0x22 frame."""
    yy, mo, dd, hh, mi, ss, _info, lat, lon, speed, flags = _GPS.unpack_from(frame, 4)
    latitude = lat / 1_800_000.0
    longitude = lon / 1_800_000.0
    if not flags & 0x0400:
        latitude = -latitude
    if flags & 0x0800:
        longitude = -longitude
    return (
        datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC),
        latitude,
        longitude,
        speed,
        flags & 0x3FF,
    )
