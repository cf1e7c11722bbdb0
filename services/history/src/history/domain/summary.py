"""The daily summary of one device: distance, times, top speed, trips, odometer.

Input: the device's points sorted by ``fix_time`` (usable points only, re-sorted if late;
see :mod:`history.domain.track`). Pass the points of the day plus, if available, the last
point before it and the first after it, so that the moves across midnight are shared out;
trips are detected over all the points given, so a trip that starts before midnight is
seen whole.

The day runs from local midnight to the next local midnight in ``tz`` (23 or 25 hours on a
daylight-saving change). Between two consecutive points:

* the **distance** is the odometer difference when every point involved carries a reading
  that never decreases, else the great-circle move with GPS drift ignored (as for trips, so
  the day's distance equals the sum of its trips plus what was travelled outside them). A
  move that straddles midnight is shared out in proportion to time. A move across a gap in
  the data is counted: the vehicle did cover at least that;
* the **time** counts only when the points are at most ``max_gap`` apart (nothing is known
  about a longer silence), clipped to the day, and is attributed as follows:

  - **moving**: either point reports at least ``speed_threshold_kmh`` and the straight-line
    speed between them is at least that too (a still device's speed spike or a heartbeat
    before a departure is not a move);
  - **engine hours**: the ignition is on at the earlier point (devices report the ignition
    when it changes, so the state holds until the next point);
  - **idle**: the ignition is on and the interval is not moving.

  Engine hours and idle time are ``None`` when no point involved reports the ignition.

**Max speed**, the **point count** and the **odometer** at the start and end are taken from
the points inside the day. The **trip count** is the number of trips that start in the day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from history.domain.geo import counted_steps_m, distance_between_m
from history.domain.model import TrackPoint
from history.domain.track import gaps_after, ignition_states, odometer_delta_m, usable_points
from history.domain.trips import DEFAULT_TRIP_RULES, TripRules, trips_and_stops


@dataclass(frozen=True, slots=True)
class DailySummary:
    device_id: str
    day: date
    start_time: datetime  # local midnight starting the day, in the summary's time zone
    end_time: datetime  # the next local midnight
    distance_m: float
    moving_time: timedelta
    engine_hours: timedelta | None
    idle_time: timedelta | None
    max_speed_kmh: float
    trip_count: int
    start_odometer_m: float | None
    end_odometer_m: float | None
    point_count: int


def daily_summary(
    points: Iterable[TrackPoint],
    *,
    device_id: str,
    day: date,
    tz: tzinfo = UTC,
    rules: TripRules = DEFAULT_TRIP_RULES,
) -> DailySummary:
    """The summary of ``day`` (local to ``tz``) for one device (see the module docstring)."""
    day_start = datetime.combine(day, time(0), tzinfo=tz)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    # computed in UTC: arithmetic between datetimes sharing a ZoneInfo is wall-clock time
    start, end = day_start.astimezone(UTC), day_end.astimezone(UTC)
    track = usable_points(points)
    in_day = [p for p in track if start <= p.fix_time < end]

    # the intervals that overlap the day: track[i] -> track[i + 1] for i in [first, last)
    overlapping = [
        i
        for i in range(len(track) - 1)
        if track[i].fix_time < end and track[i + 1].fix_time > start
    ]
    distance = 0.0
    moving = engine = idle = timedelta(0)
    ignition_reported = False
    if overlapping:
        first, last = overlapping[0], overlapping[-1] + 1
        involved = track[first : last + 1]
        use_odometer = odometer_delta_m(involved) is not None
        steps = counted_steps_m(track, rules.jitter)
        gaps = gaps_after(track, rules.max_gap)
        ignition = ignition_states(track, gaps)
        ignition_reported = any(p.ignition is not None for p in involved)
        shares: list[float] = []
        for i in overlapping:
            a, b = track[i], track[i + 1]
            elapsed = b.fix_time - a.fix_time
            inside = min(b.fix_time, end) - max(a.fix_time, start)
            move = _odometer_move_m(a, b) if use_odometer else None
            if move is None:
                move = steps[i + 1]
            shares.append(move * (inside / elapsed))
            if gaps[i]:
                continue
            is_moving = _is_moving(a, b, rules.speed_threshold_kmh)
            if is_moving:
                moving += inside
            if ignition[i] is True:
                engine += inside
                if not is_moving:
                    idle += inside
        distance = math.fsum(shares)

    trip_count = sum(
        1 for trip in trips_and_stops(track, rules).trips if start <= trip.start_time < end
    )
    odometers = [p.odometer_m for p in in_day if p.odometer_m is not None]
    return DailySummary(
        device_id=device_id,
        day=day,
        start_time=day_start,
        end_time=day_end,
        distance_m=distance,
        moving_time=moving,
        engine_hours=engine if ignition_reported else None,
        idle_time=idle if ignition_reported else None,
        max_speed_kmh=max((p.speed_kmh for p in in_day), default=0.0),
        trip_count=trip_count,
        start_odometer_m=odometers[0] if odometers else None,
        end_odometer_m=odometers[-1] if odometers else None,
        point_count=len(in_day),
    )


def _odometer_move_m(a: TrackPoint, b: TrackPoint) -> float | None:
    if a.odometer_m is None or b.odometer_m is None:
        return None
    return b.odometer_m - a.odometer_m


def _is_moving(a: TrackPoint, b: TrackPoint, threshold_kmh: float) -> bool:
    if max(a.speed_kmh, b.speed_kmh) < threshold_kmh:
        return False
    seconds = (b.fix_time - a.fix_time).total_seconds()
    return distance_between_m(a, b) / seconds * 3.6 >= threshold_kmh
