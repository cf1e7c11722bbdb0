"""Location frames as the device-side builders make them, like the decode benchmarks use.

Plausible, varied positions (a slow drift with changing speed, course and satellites), so that
every byte of the GPS block varies and some JT/T 808 frames need escaping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.jt808 import Jt808Address
from trackstream_protocols.jt808 import device as jt808_device
from trackstream_protocols.model import Fix

TERMINAL = Jt808Address.from_phone("13912345678")


def route_fixes(count: int) -> list[Fix]:
    start = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    return [
        Fix(
            fix_time=start + timedelta(seconds=10 * i),
            latitude=41.0 + (i % 5000) / 100_000,
            longitude=28.9 + (i % 7000) / 100_000,
            speed_kmh=float(i % 90),
            course_deg=float((i * 13) % 360),
            valid=True,
            satellites=8 + i % 5,
        )
        for i in range(count)
    ]


def gt06_locations(count: int) -> list[bytes]:
    """``78 78`` 0x22 GPS+LBS frames."""
    return [gt06_device.encode_location(fix, serial=i) for i, fix in enumerate(route_fixes(count))]


def jt808_locations(count: int) -> list[bytes]:
    """2013 0x0200 frames with mileage, signal and satellites items."""
    return [
        jt808_device.encode_location(
            TERMINAL, i, fix, ignition=True, mileage_m=1_000 * i, rssi=20 + i % 10
        )
        for i, fix in enumerate(route_fixes(count))
    ]
