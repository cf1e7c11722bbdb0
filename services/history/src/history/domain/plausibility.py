"""The plausibility rule: which incoming positions are flagged, and why.

Applied once, when a position is written. A flagged point is stored as received with
``flagged`` set to the reason, and is left out of distances, trips, stops, summaries and
overspeed reports (and of exports unless asked for). The rule, checked in this order, first
failure wins:

``"coordinates"``
    latitude or longitude is not a finite number, latitude is outside [-90, 90], longitude
    outside [-180, 180], or the position is exactly (0, 0): "null island" is what many
    devices send before their first fix.
``"future"``
    the fix time is more than 24 h after ``now`` (exactly 24 h is accepted). The margin
    absorbs devices that report local time instead of UTC (up to UTC+14) and clock skew; a
    larger lead is a broken clock or a GPS week-number rollover.
``"speed"``
    the reported speed is not finite, negative or above 1,000 km/h; or the speed implied by
    the move from the previous point is above 1,000 km/h. The implied speed is the
    great-circle distance over the time between the two fixes, the time taken as at least
    1 s (devices stamp fixes to the second), so two fixes with the same time stamp may be up
    to 277 m apart. 1,000 km/h is above anything a tracked vehicle does (airliners cruise at
    about 900 km/h) and well under a jump between cities from a bad fix.

The implied-speed check needs the device's previous **accepted** (unflagged) point: comparing
with a flagged outlier would flag the good points after it. :func:`flag_track` does this
for a whole track. A first bad point that is accepted (no previous point to compare with)
can still cause later good points to be flagged until enough time has passed for them to be
reachable from it at 1,000 km/h; the coordinate rules catch the usual first-fix garbage.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from history.domain.geo import distance_between_m
from history.domain.model import TrackPoint

COORDINATES = "coordinates"
FUTURE = "future"
SPEED = "speed"

MAX_FUTURE_LEAD = timedelta(hours=24)
MAX_SPEED_KMH = 1000.0
#: the shortest time assumed between two fixes when computing the implied speed
MIN_FIX_INTERVAL = timedelta(seconds=1)


def flag(point: TrackPoint, *, now: datetime, previous: TrackPoint | None = None) -> str | None:
    """The reason ``point`` is implausible, or ``None`` when it is plausible.

    ``now`` is the time the position is received (timezone-aware); ``previous`` is the
    device's last accepted point, if any (before or after ``point`` in time).
    """
    if not _coordinates_plausible(point.latitude, point.longitude):
        return COORDINATES
    if point.fix_time - now > MAX_FUTURE_LEAD:
        return FUTURE
    if not (0.0 <= point.speed_kmh <= MAX_SPEED_KMH):  # also rejects NaN
        return SPEED
    if previous is not None and implied_speed_kmh(previous, point) > MAX_SPEED_KMH:
        return SPEED
    return None


def implied_speed_kmh(a: TrackPoint, b: TrackPoint) -> float:
    """Great-circle distance between two points over the time between their fixes (at least
    :data:`MIN_FIX_INTERVAL`), in km/h."""
    elapsed = max(abs(b.fix_time - a.fix_time), MIN_FIX_INTERVAL)
    return distance_between_m(a, b) / elapsed.total_seconds() * 3.6


def flag_track(points: Iterable[TrackPoint], *, now: datetime) -> list[TrackPoint]:
    """Apply :func:`flag` along a track sorted by fix time, each point compared with the last
    accepted one. Returns the points with ``flagged`` set where the rule fails (points already
    flagged are kept as they are and not used as a reference)."""
    result: list[TrackPoint] = []
    previous: TrackPoint | None = None
    for point in points:
        if point.flagged is not None:
            result.append(point)
            continue
        reason = flag(point, now=now, previous=previous)
        if reason is None:
            previous = point
            result.append(point)
        else:
            result.append(dataclasses.replace(point, flagged=reason))
    return result


def _coordinates_plausible(latitude: float, longitude: float) -> bool:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return False
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return False
    return not (latitude == 0.0 and longitude == 0.0)
