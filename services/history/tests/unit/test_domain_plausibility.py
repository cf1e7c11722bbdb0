"""The plausibility rule: each reason triggers, and its boundaries hold."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.domain.geo import EARTH_MEAN_RADIUS_M
from history.domain.model import TrackPoint
from history.domain.plausibility import (
    COORDINATES,
    FUTURE,
    SPEED,
    flag,
    flag_track,
    implied_speed_kmh,
)

NOW = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
METRES_PER_DEGREE = EARTH_MEAN_RADIUS_M * math.pi / 180


def point(
    lat: float = 41.15,
    lon: float = -8.61,
    *,
    at: datetime = NOW,
    speed: float = 40.0,
    flagged: str | None = None,
) -> TrackPoint:
    return TrackPoint(
        device_id="d", fix_time=at, latitude=lat, longitude=lon, speed_kmh=speed, flagged=flagged
    )


def north_of(origin: TrackPoint, metres: float, seconds: float) -> TrackPoint:
    return point(
        origin.latitude + metres / METRES_PER_DEGREE,
        origin.longitude,
        at=origin.fix_time + timedelta(seconds=seconds),
    )


def test_an_ordinary_point_passes() -> None:
    assert flag(point(), now=NOW) is None


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(90.0, 0.0), (-90.0, 0.0), (0.0, 180.0), (0.0, -180.0), (0.0, 1e-6), (1e-6, 0.0)],
)
def test_coordinate_boundaries_are_accepted(lat: float, lon: float) -> None:
    assert flag(point(lat, lon), now=NOW) is None


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (90.000001, 0.0),
        (-90.000001, 0.0),
        (10.0, 180.000001),
        (10.0, -180.000001),
        (0.0, 0.0),
        (math.nan, 10.0),
        (10.0, math.inf),
    ],
)
def test_bad_coordinates_are_flagged(lat: float, lon: float) -> None:
    assert flag(point(lat, lon), now=NOW) == COORDINATES


@given(st.floats(min_value=-90, max_value=90), st.floats(min_value=-180, max_value=180))
def test_any_position_in_range_but_null_island_passes(lat: float, lon: float) -> None:
    expected = COORDINATES if lat == 0 and lon == 0 else None
    assert flag(point(lat, lon), now=NOW) == expected


@given(
    st.one_of(
        st.floats(min_value=90, exclude_min=True), st.floats(max_value=-90, exclude_max=True)
    ),
    st.floats(min_value=-180, max_value=180),
)
def test_any_latitude_out_of_range_is_flagged(lat: float, lon: float) -> None:
    assert flag(point(lat, lon), now=NOW) == COORDINATES


def test_future_boundary_is_24_hours() -> None:
    assert flag(point(at=NOW + timedelta(hours=24)), now=NOW) is None
    assert flag(point(at=NOW + timedelta(hours=24, microseconds=1)), now=NOW) == FUTURE
    assert flag(point(at=NOW + timedelta(days=7 * 1024)), now=NOW) == FUTURE  # week rollover
    # the past is not this rule's business
    assert flag(point(at=NOW - timedelta(days=400)), now=NOW) is None


def test_reported_speed_boundaries() -> None:
    assert flag(point(speed=0.0), now=NOW) is None
    assert flag(point(speed=1000.0), now=NOW) is None
    assert flag(point(speed=1000.001), now=NOW) == SPEED
    assert flag(point(speed=-1.0), now=NOW) == SPEED
    assert flag(point(speed=math.nan), now=NOW) == SPEED


def test_implied_speed_boundaries() -> None:
    origin = point()
    # 1,000 km/h is 2,777.8 m in 10 s
    slower = north_of(origin, 2_776.0, 10)
    faster = north_of(origin, 2_780.0, 10)
    assert implied_speed_kmh(origin, slower) == pytest.approx(999.36, abs=0.01)
    assert flag(slower, now=NOW, previous=origin) is None
    assert flag(faster, now=NOW, previous=origin) == SPEED
    # without the previous point the jump cannot be seen
    assert flag(faster, now=NOW) is None


def test_implied_speed_takes_at_least_one_second() -> None:
    origin = point()
    assert flag(north_of(origin, 270.0, 0), now=NOW, previous=origin) is None
    assert flag(north_of(origin, 290.0, 0), now=NOW, previous=origin) == SPEED
    assert flag(north_of(origin, 0.0, 0), now=NOW, previous=origin) is None  # a repeated fix


def test_implied_speed_works_with_a_later_previous_point() -> None:
    origin = point()
    late_arrival = north_of(origin, -50_000.0, -60)  # 50 km in a minute, received late
    assert flag(late_arrival, now=NOW, previous=origin) == SPEED


def test_first_failure_wins() -> None:
    assert flag(point(0.0, 0.0, at=NOW + timedelta(days=2), speed=5000), now=NOW) == COORDINATES
    assert flag(point(at=NOW + timedelta(days=2), speed=5000), now=NOW) == FUTURE


def test_flag_track_compares_with_the_last_accepted_point() -> None:
    start = point(at=NOW - timedelta(minutes=5))
    track = [start]
    for i in range(1, 6):
        track.append(north_of(start, 140.0 * i, 10 * i))
    # the third point jumps 300 km away for a moment
    track[3] = point(track[3].latitude + 3.0, track[3].longitude, at=track[3].fix_time)
    flagged = flag_track(track, now=NOW)
    assert [p.flagged for p in flagged] == [None, None, None, SPEED, None, None]
    assert flagged[3].latitude == track[3].latitude  # stored as received


def test_flag_track_keeps_existing_flags_and_does_not_compare_with_them() -> None:
    start = point(at=NOW - timedelta(minutes=5))
    outlier = point(
        start.latitude + 3.0, start.longitude, at=start.fix_time + timedelta(seconds=10)
    )
    outlier = point(outlier.latitude, outlier.longitude, at=outlier.fix_time, flagged="manual")
    after = north_of(start, 280.0, 20)
    assert [p.flagged for p in flag_track([start, outlier, after], now=NOW)] == [
        None,
        "manual",
        None,
    ]
