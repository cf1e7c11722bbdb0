"""Overspeed segments on a crafted speed profile."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.domain.geo import EARTH_MEAN_RADIUS_M
from history.domain.model import TrackPoint
from history.domain.overspeed import overspeed_segments

T0 = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
METRES_PER_DEGREE = EARTH_MEAN_RADIUS_M * math.pi / 180


def profile(speeds_kmh: Sequence[float], every: int = 10) -> list[TrackPoint]:
    """Due north along 8.6 W; each point is where the previous speed took the vehicle."""
    points, metres = [], 0.0
    for i, speed in enumerate(speeds_kmh):
        if i:
            metres += speeds_kmh[i - 1] / 3.6 * every
        points.append(
            TrackPoint(
                device_id="d",
                fix_time=T0 + timedelta(seconds=every * i),
                latitude=41.0 + metres / METRES_PER_DEGREE,
                longitude=-8.6,
                speed_kmh=speed,
            )
        )
    return points


#          0   1   2    3    4   5   6   7    8   9  10   11   12   13  14
SPEEDS = [50, 80, 95, 110, 100, 90, 85, 91, 60, 70, 96, 120, 130, 125, 80]


def test_segments_of_a_crafted_profile() -> None:
    points = profile(SPEEDS)
    first, single, last = overspeed_segments(points, limit_kmh=90)
    assert (first.start_time, first.end_time) == (
        T0 + timedelta(seconds=20),
        T0 + timedelta(seconds=40),
    )
    assert first.max_speed_kmh == 110
    assert first.duration == timedelta(seconds=20)
    # 95 km/h for 10 s then 110 km/h for 10 s
    assert first.distance_m == pytest.approx((95 + 110) / 3.6 * 10)
    assert first.start_latitude == pytest.approx(points[2].latitude)
    assert first.end_latitude == pytest.approx(points[4].latitude)
    assert first.limit_kmh == 90
    # exactly at the limit (90 at index 5) is not over it; 91 alone is a segment of one point
    assert (single.start_time, single.end_time) == (T0 + timedelta(seconds=70),) * 2
    assert single.distance_m == 0.0
    assert (last.start_time, last.end_time) == (
        T0 + timedelta(seconds=100),
        T0 + timedelta(seconds=130),
    )
    assert last.max_speed_kmh == 130


def test_min_duration_drops_short_segments() -> None:
    points = profile(SPEEDS)
    segments = overspeed_segments(points, limit_kmh=90, min_duration=timedelta(seconds=30))
    assert [s.start_time for s in segments] == [T0 + timedelta(seconds=100)]
    boundary = overspeed_segments(points, limit_kmh=90, min_duration=timedelta(seconds=20))
    assert len(boundary) == 2


def test_a_gap_ends_a_segment() -> None:
    points = profile([100] * 10, every=600)  # 10 min apart: no gap
    assert len(overspeed_segments(points, limit_kmh=90)) == 1
    holed = points[:3] + points[7:]  # 40 min hole
    assert [(s.start_time, s.end_time) for s in overspeed_segments(holed, limit_kmh=90)] == [
        (T0, T0 + timedelta(minutes=20)),
        (T0 + timedelta(minutes=70), T0 + timedelta(minutes=90)),
    ]


def test_flagged_points_do_not_make_overspeed() -> None:
    points = profile([50, 60, 900, 60, 50])
    points[2] = TrackPoint("d", points[2].fix_time, 41.0, -8.6, 900.0, flagged="speed")
    assert overspeed_segments(points, limit_kmh=90) == ()


def test_no_points() -> None:
    assert overspeed_segments([], limit_kmh=90) == ()


@given(st.lists(st.floats(min_value=0, max_value=200), max_size=60), st.integers(0, 2**32))
def test_segments_cover_exactly_the_points_over_the_limit(speeds: list[float], seed: int) -> None:
    points = profile(speeds)
    shuffled = list(points)
    random.Random(seed).shuffle(shuffled)
    segments = overspeed_segments(shuffled, limit_kmh=100)
    covered = {
        p.fix_time for s in segments for p in points if s.start_time <= p.fix_time <= s.end_time
    }
    assert covered == {p.fix_time for p in points if p.speed_kmh > 100}
    assert all(s.max_speed_kmh > 100 for s in segments)
    assert [s.start_time for s in segments] == sorted(s.start_time for s in segments)
