"""Deterministic driving routes: where a virtual vehicle is at any simulated time. Pure.

A route is a closed loop through random waypoints around a centre, driven on a street grid: each
hop from one waypoint to the next goes along the grid's first axis, turns 90 degrees at a corner
and continues along the second axis (the grid is rotated by a random angle, as city grids are).
Every hop has one constant cruise speed (mostly city speeds, sometimes an arterial road fast
enough to trip an overspeed alarm) and may end with a stop (traffic light, delivery). The loop
repeats forever, so any time maps to a position.

Geometry is a local equirectangular projection around the centre, in metres: accurate to well
under a metre within the few kilometres a route spans, and consistent with itself (the distance
between two samples on one leg is exactly speed x time).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_CENTRE",
    "DEFAULT_INTERVAL_S",
    "Leg",
    "Route",
    "Sample",
    "generate_route",
]

#: Istanbul (Eminönü)
DEFAULT_CENTRE = (41.01, 28.97)
#: simulated seconds between two positions
DEFAULT_INTERVAL_S = 10.0
EARTH_RADIUS_M = 6_371_008.8
#: city cruise speeds, and the arterial roads some hops take instead
CITY_SPEEDS_KMH = (25.0, 60.0)
ARTERIAL_SPEEDS_KMH = (75.0, 110.0)
#: legs shorter than this are dropped (a waypoint exactly on the corner)
_MIN_LEG_M = 1.0


@dataclass(frozen=True, slots=True)
class Sample:
    """Where the vehicle is ``offset_s`` simulated seconds after the route's start."""

    offset_s: float
    latitude: float
    longitude: float
    speed_kmh: float
    #: heading, degrees clockwise from north in [0, 360); kept while stopped
    course_deg: float
    moving: bool
    #: metres driven since the start of the route (grows across laps)
    odometer_m: float


@dataclass(frozen=True, slots=True)
class Leg:
    """One straight stretch at constant speed, optionally followed by a stop at its end.
    Coordinates are metres east/north of the route's centre."""

    start: tuple[float, float]
    end: tuple[float, float]
    speed_kmh: float
    stop_s: float = 0.0

    @property
    def length_m(self) -> float:
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    @property
    def drive_s(self) -> float:
        return self.length_m / (self.speed_kmh / 3.6)

    @property
    def duration_s(self) -> float:
        return self.drive_s + self.stop_s

    @property
    def course_deg(self) -> float:
        east, north = self.end[0] - self.start[0], self.end[1] - self.start[1]
        return math.degrees(math.atan2(east, north)) % 360.0


@dataclass(frozen=True)
class Route:
    """A closed loop of legs around ``centre`` (lat, lon); sample it with :meth:`at`."""

    centre: tuple[float, float]
    legs: tuple[Leg, ...]
    #: simulated seconds one lap takes, stops included
    cycle_s: float = field(init=False, compare=False)
    #: metres one lap drives
    length_m: float = field(init=False, compare=False)
    # where each leg starts, in time and in distance
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _distances: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.legs:
            raise ValueError("a route needs at least one leg")
        starts, lengths = [], []
        t = distance = 0.0
        for leg in self.legs:
            if leg.speed_kmh <= 0 or leg.stop_s < 0:
                raise ValueError(f"bad leg {leg}")
            starts.append(t)
            lengths.append(distance)
            t += leg.duration_s
            distance += leg.length_m
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_distances", tuple(lengths))
        object.__setattr__(self, "cycle_s", t)
        object.__setattr__(self, "length_m", distance)

    def _to_degrees(self, east: float, north: float) -> tuple[float, float]:
        lat0, lon0 = self.centre
        latitude = lat0 + math.degrees(north / EARTH_RADIUS_M)
        longitude = lon0 + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
        return latitude, longitude

    def at(self, offset_s: float) -> Sample:
        """The vehicle's state ``offset_s`` (>= 0) simulated seconds after the start."""
        if offset_s < 0:
            raise ValueError("offset must not be negative")
        starts, distances = self._starts, self._distances
        laps, within = divmod(offset_s, self.cycle_s)
        index = max(bisect.bisect_right(starts, within) - 1, 0)
        leg = self.legs[index]
        into = within - starts[index]
        if into < leg.drive_s:
            fraction = into / leg.drive_s
            east = leg.start[0] + (leg.end[0] - leg.start[0]) * fraction
            north = leg.start[1] + (leg.end[1] - leg.start[1]) * fraction
            driven, speed, moving = leg.length_m * fraction, leg.speed_kmh, True
        else:
            (east, north), driven, speed, moving = leg.end, leg.length_m, 0.0, False
        latitude, longitude = self._to_degrees(east, north)
        return Sample(
            offset_s=offset_s,
            latitude=latitude,
            longitude=longitude,
            speed_kmh=speed,
            course_deg=leg.course_deg,
            moving=moving,
            odometer_m=laps * self.length_m + distances[index] + driven,
        )

    def samples(
        self, interval_s: float = DEFAULT_INTERVAL_S, start_offset_s: float = 0.0
    ) -> Iterator[Sample]:
        """Samples every ``interval_s`` simulated seconds from ``start_offset_s``, forever."""
        if interval_s <= 0:
            raise ValueError("interval must be positive")
        k = 0
        while True:
            yield self.at(start_offset_s + k * interval_s)
            k += 1


def generate_route(
    seed: int | str,
    *,
    centre: tuple[float, float] = DEFAULT_CENTRE,
    radius_m: float = 4000.0,
    waypoints: tuple[int, int] = (5, 9),
    arterial_share: float = 0.25,
    stop_share: float = 0.5,
    stop_s: tuple[float, float] = (20.0, 120.0),
) -> Route:
    """A random but reproducible loop: the same arguments always give the same route.

    ``waypoints`` bounds how many destinations the loop visits, all within ``radius_m`` of
    ``centre`` (corners stay within ``radius_m * sqrt(2)``). ``arterial_share`` of the hops use
    an arterial speed, ``stop_share`` of the waypoints get a stop of ``stop_s`` seconds.
    """
    if radius_m <= 0:
        raise ValueError("radius must be positive")
    rng = random.Random(f"trackstream-route:{seed}")
    count = rng.randint(*waypoints)
    grid = rng.uniform(0.0, math.pi / 2)  # the street grid's rotation
    axis_a = (math.sin(grid), math.cos(grid))  # unit vector (east, north); B is A turned 90°
    # destinations around the centre, ordered by angle so the loop does not cross itself much
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(count))
    points = []
    for angle in angles:
        r = radius_m * math.sqrt(rng.uniform(0.05, 1.0))
        points.append((r * math.sin(angle), r * math.cos(angle)))
    legs: list[Leg] = []
    for i, start in enumerate(points):
        end = points[(i + 1) % len(points)]
        dx, dy = end[0] - start[0], end[1] - start[1]
        # split the hop into a stretch along axis A, then along axis B (one corner)
        a = dx * axis_a[0] + dy * axis_a[1]
        corner = (start[0] + a * axis_a[0], start[1] + a * axis_a[1])
        if rng.random() < arterial_share:
            speed = round(rng.uniform(*ARTERIAL_SPEEDS_KMH))
        else:
            speed = round(rng.uniform(*CITY_SPEEDS_KMH))
        stop = round(rng.uniform(*stop_s)) if rng.random() < stop_share else 0.0
        for a_point, b_point, pause in ((start, corner, 0.0), (corner, end, stop)):
            leg = Leg(a_point, b_point, float(speed), float(pause))
            if leg.length_m >= _MIN_LEG_M:
                legs.append(leg)
            elif pause and legs:  # the corner is the waypoint: keep its stop
                last = legs[-1]
                legs[-1] = Leg(last.start, last.end, last.speed_kmh, last.stop_s + pause)
    if not legs:  # every waypoint coincided: drive a small square instead
        side = max(radius_m / 4, 10 * _MIN_LEG_M)
        square = [(0.0, 0.0), (side, 0.0), (side, side), (0.0, side)]
        legs = [Leg(square[i], square[(i + 1) % 4], CITY_SPEEDS_KMH[0]) for i in range(4)]
    return Route(centre=centre, legs=tuple(legs))
