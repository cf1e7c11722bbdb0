"""Trips and stops, as in Traccar's and Tracksolid's trip and parking reports.

Input: the points of one device sorted by ``fix_time``; only usable points count (valid and
not flagged, see :mod:`history.domain.track`, which also re-sorts late points).

**Detection.** Each point is *active* or not:

* by motion, when the device does not report ignition: active when its reported speed is at
  least ``speed_threshold_kmh`` (5 km/h: above the 0-3 km/h a still receiver reports, below
  any real driving speed);
* by ignition, preferred when any point reports it (``Detection.AUTO``): active when the
  ignition is on (the last reported state carries forward over points that omit it), or when
  the speed is at least the threshold anyway, so a towed car or an unwired ignition input
  still makes trips.

A trip is a run of active points; runs separated by an inactive stretch shorter than
``min_stop`` (5 min: a traffic light or a level crossing, not a parking) are one trip. A run
never crosses a gap in the data longer than ``max_gap`` (30 min): the trip ends at the last
point before the gap and the next one starts at the first point after it.

**Boundaries.** A trip ends at the first inactive point after its last active point (where
the vehicle arrived, or the ignition went off). When the run begins with a point that is
active by speed, the vehicle had already left, so the trip starts at the inactive point
before it (where it left from); a run beginning with an ignition-on point starts there. Both
extensions apply only to a neighbour at most ``boundary_window`` (2 min) away: a point
further off is a parked device's heartbeat and says nothing about when it left or arrived.

**Filters.** A trip shorter than ``min_trip_distance_m`` (200 m) or ``min_trip_duration``
(60 s) is not reported (moving across a car park, idling with the engine on); its time
belongs to the surrounding stop.

**Distance** of a trip is the odometer difference when every point of the trip carries an
odometer reading that never decreases, else the sum of great-circle moves with GPS drift
ignored (:mod:`history.domain.geo`). **Average speed** is distance over duration.

**Stops** are the times between reported trips (and before the first and after the last),
from the arrival point to the departure point, at the arrival position. A gap in the data
does not end a stop when the device is found within ``parked_radius_m`` (100 m) of where it
was: a parked device that sleeps is still parked. A stop shorter than ``min_stop`` is not
reported. ``idle_duration`` is the time with the ignition on, and ``ignition_on`` whether it
was on for most of the stop (Tracksolid's "idling" versus "parking"); both are ``None`` when
the device never reports ignition there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from history.domain.geo import (
    DEFAULT_JITTER_RULE,
    JitterRule,
    counted_steps_m,
    distance_between_m,
)
from history.domain.model import TrackPoint
from history.domain.track import gaps_after, ignition_states, odometer_delta_m, usable_points


class Detection(StrEnum):
    AUTO = "auto"  # ignition when the device reports it, motion otherwise
    IGNITION = "ignition"
    MOTION = "motion"


@dataclass(frozen=True, slots=True)
class TripRules:
    """Thresholds of trip and stop detection (see the module docstring)."""

    speed_threshold_kmh: float = 5.0
    min_stop: timedelta = timedelta(minutes=5)
    min_trip_distance_m: float = 200.0
    min_trip_duration: timedelta = timedelta(seconds=60)
    max_gap: timedelta = timedelta(minutes=30)
    boundary_window: timedelta = timedelta(minutes=2)
    parked_radius_m: float = 100.0
    detection: Detection = Detection.AUTO
    jitter: JitterRule = DEFAULT_JITTER_RULE

    def detection_for(self, track: Sequence[TrackPoint]) -> Detection:
        """IGNITION or MOTION: what AUTO resolves to for this track."""
        if self.detection is not Detection.AUTO:
            return self.detection
        if any(p.ignition is not None for p in track):
            return Detection.IGNITION
        return Detection.MOTION


DEFAULT_TRIP_RULES = TripRules()


@dataclass(frozen=True, slots=True)
class Trip:
    device_id: str
    start_time: datetime
    end_time: datetime
    duration: timedelta
    start_latitude: float
    start_longitude: float
    end_latitude: float
    end_longitude: float
    start_address: str | None
    end_address: str | None
    distance_m: float
    max_speed_kmh: float
    average_speed_kmh: float
    start_odometer_m: float | None
    end_odometer_m: float | None


@dataclass(frozen=True, slots=True)
class Stop:
    device_id: str
    start_time: datetime
    end_time: datetime
    duration: timedelta
    latitude: float
    longitude: float
    address: str | None
    ignition_on: bool | None
    idle_duration: timedelta | None


@dataclass(frozen=True, slots=True)
class TripsAndStops:
    trips: tuple[Trip, ...]
    stops: tuple[Stop, ...]
    detection: Detection  # IGNITION or MOTION, as resolved for the track


def trips_and_stops(
    points: Iterable[TrackPoint], rules: TripRules = DEFAULT_TRIP_RULES
) -> TripsAndStops:
    """The trips and stops of one device's points (any order; see the module docstring)."""
    track = usable_points(points)
    detection = rules.detection_for(track)
    if not track:
        return TripsAndStops((), (), detection)
    analysis = _TrackAnalysis.of(track, rules, detection)
    steps = counted_steps_m(track, rules.jitter)
    trips: list[Trip] = []
    kept: list[tuple[int, int]] = []
    for start, end in _trip_spans(analysis, rules):
        trip = _trip(track, steps, start, end)
        if (
            trip.distance_m >= rules.min_trip_distance_m
            and trip.duration >= rules.min_trip_duration
        ):
            trips.append(trip)
            kept.append((start, end))
    stops = _stops(analysis, kept, rules)
    return TripsAndStops(tuple(trips), tuple(stops), detection)


@dataclass(frozen=True, slots=True)
class _TrackAnalysis:
    track: list[TrackPoint]
    gaps: list[bool]  # gaps[i]: more than max_gap between track[i] and track[i + 1]
    ignition: list[bool | None]  # carried-forward ignition state
    active_by_ignition: list[bool]
    active: list[bool]

    @classmethod
    def of(cls, track: list[TrackPoint], rules: TripRules, detection: Detection) -> _TrackAnalysis:
        gaps = gaps_after(track, rules.max_gap)
        ignition = ignition_states(track, gaps)
        if detection is Detection.IGNITION:
            by_ignition = [state is True for state in ignition]
        else:
            by_ignition = [False] * len(track)
        active = [
            on or p.speed_kmh >= rules.speed_threshold_kmh
            for p, on in zip(track, by_ignition, strict=True)
        ]
        return cls(track, gaps, ignition, by_ignition, active)


def _active_runs(analysis: _TrackAnalysis) -> list[tuple[int, int]]:
    """Maximal runs of active points, first and last index, never across a gap."""
    active, gaps = analysis.active, analysis.gaps
    runs: list[tuple[int, int]] = []
    i, n = 0, len(active)
    while i < n:
        if not active[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and active[j + 1] and not gaps[j]:
            j += 1
        runs.append((i, j))
        i = j + 1
    return runs


def _trip_spans(analysis: _TrackAnalysis, rules: TripRules) -> list[tuple[int, int]]:
    """Candidate trips as (start, end) indices, boundaries extended and short stops merged."""
    track, gaps = analysis.track, analysis.gaps
    spans: list[tuple[int, int]] = []
    previous_last = -1  # last active index of the previous run
    for first, last in _active_runs(analysis):
        start = first
        if (
            not analysis.active_by_ignition[first]
            and first > 0
            and not gaps[first - 1]
            and track[first].fix_time - track[first - 1].fix_time <= rules.boundary_window
        ):
            start = first - 1
        end = last
        if (
            last + 1 < len(track)
            and not gaps[last]
            and track[last + 1].fix_time - track[last].fix_time <= rules.boundary_window
        ):
            end = last + 1
        if (
            spans
            and not any(gaps[previous_last:first])
            and track[start].fix_time - track[spans[-1][1]].fix_time < rules.min_stop
        ):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        previous_last = last
    return spans


def _trip(track: Sequence[TrackPoint], steps: Sequence[float], start: int, end: int) -> Trip:
    first, final = track[start], track[end]
    leg = track[start : end + 1]
    odometer = odometer_delta_m(leg)
    distance = odometer if odometer is not None else math.fsum(steps[start + 1 : end + 1])
    duration = final.fix_time - first.fix_time
    seconds = duration.total_seconds()
    return Trip(
        device_id=first.device_id,
        start_time=first.fix_time,
        end_time=final.fix_time,
        duration=duration,
        start_latitude=first.latitude,
        start_longitude=first.longitude,
        end_latitude=final.latitude,
        end_longitude=final.longitude,
        start_address=first.address,
        end_address=final.address,
        distance_m=distance,
        max_speed_kmh=max(p.speed_kmh for p in leg),
        average_speed_kmh=distance / seconds * 3.6 if seconds > 0 else 0.0,
        start_odometer_m=first.odometer_m,
        end_odometer_m=final.odometer_m,
    )


def _stops(
    analysis: _TrackAnalysis, trips: Sequence[tuple[int, int]], rules: TripRules
) -> list[Stop]:
    track, gaps = analysis.track, analysis.gaps
    between: list[tuple[int, int]] = []
    previous_end = 0
    for start, end in trips:
        between.append((previous_end, start))
        previous_end = end
    between.append((previous_end, len(track) - 1))
    stops: list[Stop] = []
    for first, last in between:
        piece_start = first
        for i in range(first, last):
            if gaps[i] and distance_between_m(track[i], track[i + 1]) > rules.parked_radius_m:
                stops.extend(_stop(analysis, piece_start, i, rules))
                piece_start = i + 1
        stops.extend(_stop(analysis, piece_start, last, rules))
    return stops


def _stop(analysis: _TrackAnalysis, first: int, last: int, rules: TripRules) -> list[Stop]:
    """The stop from ``track[first]`` to ``track[last]``, or nothing if it is too short."""
    track = analysis.track
    arrival, departure = track[first], track[last]
    duration = departure.fix_time - arrival.fix_time
    if duration < rules.min_stop or duration <= timedelta(0):
        return []
    on = known = timedelta(0)
    reported: bool | None = None
    for i in range(first, last + 1):
        state = analysis.ignition[i]
        if state is not None and reported is None:
            reported = state
        if i == last or analysis.gaps[i] or state is None:
            continue
        elapsed = track[i + 1].fix_time - track[i].fix_time
        known += elapsed
        if state:
            on += elapsed
    ignition_on: bool | None
    idle_duration: timedelta | None
    if reported is None:
        ignition_on = idle_duration = None
    else:
        ignition_on = on * 2 > known if known > timedelta(0) else reported
        idle_duration = on
    address = next((p.address for p in track[first : last + 1] if p.address is not None), None)
    return [
        Stop(
            device_id=arrival.device_id,
            start_time=arrival.fix_time,
            end_time=departure.fix_time,
            duration=duration,
            latitude=arrival.latitude,
            longitude=arrival.longitude,
            address=address,
            ignition_on=ignition_on,
            idle_duration=idle_duration,
        )
    ]
