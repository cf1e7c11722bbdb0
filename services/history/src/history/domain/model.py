"""A stored position, as the domain sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One position of a device. ``fix_time`` is timezone-aware UTC; speeds are km/h.

    ``valid`` is the device's GNSS fix flag; ``flagged`` is our own plausibility verdict (see
    ``history.domain.plausibility``): flagged points are stored but left out of trips,
    distances and summaries.
    """

    device_id: str
    fix_time: datetime
    latitude: float
    longitude: float
    speed_kmh: float
    course_deg: float = 0.0
    valid: bool = True
    altitude_m: float | None = None
    satellites: int | None = None
    ignition: bool | None = None
    odometer_m: float | None = None
    address: str | None = None
    message_serial: int = 0
    archived: bool = False
    flagged: str | None = None
    received_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class PointAddress:
    """The address geocoding found for one stored position (same key: device, fix time,
    message serial)."""

    device_id: str
    fix_time: datetime
    message_serial: int
    address: str
