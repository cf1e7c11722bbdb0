"""Overspeed segments: where a device went faster than a limit.

Input: one device's points sorted by ``fix_time``; usable points only (see
:mod:`history.domain.track`). A segment is a run of consecutive points whose reported speed
is strictly above ``limit_kmh``; it starts at the first such point and ends at the last (the
moments the limit was crossed lie between samples and are not guessed). A gap in the data
longer than ``max_gap`` ends a segment. Segments shorter than ``min_duration`` (default 0:
a single sample over the limit counts) are left out. The distance of a segment is the sum of
great-circle moves between its points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from history.domain.geo import distance_between_m
from history.domain.model import TrackPoint
from history.domain.track import gaps_after, usable_points

DEFAULT_MAX_GAP = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class OverspeedSegment:
    device_id: str
    limit_kmh: float
    start_time: datetime
    end_time: datetime
    duration: timedelta
    max_speed_kmh: float
    distance_m: float
    start_latitude: float
    start_longitude: float
    end_latitude: float
    end_longitude: float


def overspeed_segments(
    points: Iterable[TrackPoint],
    *,
    limit_kmh: float,
    min_duration: timedelta = timedelta(0),
    max_gap: timedelta = DEFAULT_MAX_GAP,
) -> tuple[OverspeedSegment, ...]:
    """The segments above ``limit_kmh`` lasting at least ``min_duration``, in time order."""
    track = usable_points(points)
    gaps = gaps_after(track, max_gap)
    segments: list[OverspeedSegment] = []
    i, n = 0, len(track)
    while i < n:
        if track[i].speed_kmh <= limit_kmh:
            i += 1
            continue
        j = i
        while j + 1 < n and track[j + 1].speed_kmh > limit_kmh and not gaps[j]:
            j += 1
        segment = _segment(track[i : j + 1], limit_kmh)
        if segment.duration >= min_duration:
            segments.append(segment)
        i = j + 1
    return tuple(segments)


def _segment(run: Sequence[TrackPoint], limit_kmh: float) -> OverspeedSegment:
    first, last = run[0], run[-1]
    return OverspeedSegment(
        device_id=first.device_id,
        limit_kmh=limit_kmh,
        start_time=first.fix_time,
        end_time=last.fix_time,
        duration=last.fix_time - first.fix_time,
        max_speed_kmh=max(p.speed_kmh for p in run),
        distance_m=math.fsum(distance_between_m(a, b) for a, b in pairwise(run)),
        start_latitude=first.latitude,
        start_longitude=first.longitude,
        end_latitude=last.latitude,
        end_longitude=last.longitude,
    )
