"""The points a computation may use, in time order.

Every report in this package (distances, trips, stops, summaries, overspeed) starts from
:func:`usable_points`:

* points with ``valid=False`` (no GNSS fix: the device repeats its last known position) and
  points with ``flagged`` set (rejected by :mod:`history.domain.plausibility`) are left out;
* the rest are sorted by ``fix_time`` (then ``message_serial``). Callers should pass points
  already sorted, as the store returns them; the sort is a stable Timsort, which costs one
  linear pass on sorted input, so late or out-of-order points are tolerated cheaply;
* points repeating a ``fix_time`` already seen are dropped (devices resend a fix they think
  was not acknowledged), keeping the one with the lowest ``message_serial``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from history.domain.model import TrackPoint


def is_usable(point: TrackPoint) -> bool:
    """True for a point with a GNSS fix that passed the plausibility rule."""
    return point.valid and point.flagged is None


def usable_points(points: Iterable[TrackPoint]) -> list[TrackPoint]:
    """Valid, unflagged points sorted by fix time, one per fix time."""
    ordered = sorted(
        (p for p in points if is_usable(p)), key=lambda p: (p.fix_time, p.message_serial)
    )
    track: list[TrackPoint] = []
    for point in ordered:
        if track and track[-1].fix_time == point.fix_time:
            continue
        track.append(point)
    return track


def odometer_delta_m(points: Sequence[TrackPoint]) -> float | None:
    """Last minus first odometer reading, when every point carries one and the readings never
    decrease; ``None`` otherwise (a missing reading, or a reset or replaced device)."""
    if not points:
        return None
    first = points[0].odometer_m
    if first is None:
        return None
    last = first
    for point in points:
        reading = point.odometer_m
        if reading is None or reading < last:
            return None
        last = reading
    return last - first


def gaps_after(track: Sequence[TrackPoint], max_gap: timedelta) -> list[bool]:
    """Element ``i`` is True when more than ``max_gap`` separates ``track[i]`` from
    ``track[i + 1]`` (the last element is always False)."""
    gaps = [False] * len(track)
    for i in range(len(track) - 1):
        gaps[i] = track[i + 1].fix_time - track[i].fix_time > max_gap
    return gaps


def ignition_states(track: Sequence[TrackPoint], gaps: Sequence[bool]) -> list[bool | None]:
    """The ignition state at each point: the point's own report, else the last report before
    it (many devices send the ignition only in some message types, or only when it changes);
    ``None`` before the first report and after a gap (see :func:`gaps_after`), where the last
    report may be stale."""
    states: list[bool | None] = []
    state: bool | None = None
    for i, point in enumerate(track):
        if point.ignition is not None:
            state = point.ignition
        states.append(state)
        if gaps[i]:
            state = None
    return states
