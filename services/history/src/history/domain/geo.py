"""Distances on the Earth, and the jitter rule that keeps GPS drift out of them.

Distances are great-circle (haversine) distances on a sphere of the WGS84 mean radius
R1 = 6,371,008.8 m. Against the ellipsoid the error is below 0.5 %, far less than what
sampling at 10-30 s loses on curves.

**Jitter rule.** A parked receiver's fix wanders by a few metres (and by tens of metres under
trees or between buildings) while the device reports a speed near zero. Summing those moves
turns a night in a car park into kilometres. So a move is counted from an *anchor*, the last
counted position: a point whose reported speed is below ``max_speed_kmh`` (3 km/h; devices
report 0-2 km/h of Doppler noise when still) and which lies less than ``radius_m`` (30 m, about
the 95th percentile of horizontal error of consumer GNSS in a town) from the anchor adds
nothing and leaves the anchor where it is. Any other point adds its distance from the anchor
and becomes the anchor. Because the anchor does not follow the drift, a parked device adds
nothing however long it stays; a genuinely slow movement is still counted, at most
``radius_m`` late, once it leaves the circle.

Tracks are sequences of :class:`~history.domain.model.TrackPoint` sorted by ``fix_time``;
:func:`track_distance_m` uses only usable points (see :mod:`history.domain.track`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from history.domain.model import TrackPoint
from history.domain.track import usable_points

#: WGS84 mean radius R1 = (2a + b) / 3, in metres.
EARTH_MEAN_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two latitude/longitude pairs in degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def distance_between_m(a: TrackPoint, b: TrackPoint) -> float:
    """Great-circle distance in metres between two points."""
    return haversine_m(a.latitude, a.longitude, b.latitude, b.longitude)


@dataclass(frozen=True, slots=True)
class JitterRule:
    """Moves slower than ``max_speed_kmh`` and within ``radius_m`` of the last counted position
    are GPS drift, not travel (see the module docstring)."""

    max_speed_kmh: float = 3.0
    radius_m: float = 30.0

    def is_drift(self, point: TrackPoint, distance_from_anchor_m: float) -> bool:
        return point.speed_kmh < self.max_speed_kmh and distance_from_anchor_m < self.radius_m


DEFAULT_JITTER_RULE = JitterRule()
#: counts every move, however small
NO_JITTER_RULE = JitterRule(max_speed_kmh=0.0, radius_m=0.0)


def counted_steps_m(
    track: Sequence[TrackPoint], jitter: JitterRule = DEFAULT_JITTER_RULE
) -> list[float]:
    """Distance counted on arrival at each point of an already filtered, sorted track: element
    ``i`` is what the move ending at ``track[i]`` adds (element 0 is 0). The sum of a slice
    ``[i + 1 : j + 1]`` is the distance travelled from ``track[i]`` to ``track[j]``."""
    steps = [0.0] * len(track)
    if not track:
        return steps
    anchor = track[0]
    for i in range(1, len(track)):
        point = track[i]
        distance = distance_between_m(anchor, point)
        if jitter.is_drift(point, distance):
            continue
        steps[i] = distance
        anchor = point
    return steps


def track_distance_m(
    points: Iterable[TrackPoint], jitter: JitterRule = DEFAULT_JITTER_RULE
) -> float:
    """Length in metres of a track: usable points only, in time order, drift ignored."""
    return math.fsum(counted_steps_m(usable_points(points), jitter))
