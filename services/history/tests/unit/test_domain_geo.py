"""Great-circle distances and the jitter rule."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.domain.geo import (
    EARTH_MEAN_RADIUS_M,
    NO_JITTER_RULE,
    JitterRule,
    counted_steps_m,
    haversine_m,
    track_distance_m,
)
from history.domain.model import TrackPoint

T0 = datetime(2024, 3, 5, 0, 0, tzinfo=UTC)
METRES_PER_DEGREE = EARTH_MEAN_RADIUS_M * math.pi / 180

latitudes = st.floats(min_value=-90, max_value=90)
longitudes = st.floats(min_value=-180, max_value=180)


def point(seconds: float, lat: float, lon: float, speed: float = 0.0, **kw: object) -> TrackPoint:
    return TrackPoint(
        device_id="d",
        fix_time=T0 + timedelta(seconds=seconds),
        latitude=lat,
        longitude=lon,
        speed_kmh=speed,
        **kw,  # type: ignore[arg-type]
    )


def test_one_degree_of_latitude_is_the_known_arc() -> None:
    assert haversine_m(41.0, -8.6, 42.0, -8.6) == pytest.approx(METRES_PER_DEGREE, rel=1e-12)
    assert abs(METRES_PER_DEGREE - 111_195.08) < 0.01


def test_known_city_distance() -> None:
    # Lisbon (38.7223, -9.1393) to Porto (41.1579, -8.6291): about 274 km as the crow flies
    assert haversine_m(38.7223, -9.1393, 41.1579, -8.6291) == pytest.approx(274_000, rel=0.005)


def test_antipodes_are_half_the_circumference() -> None:
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_M)
    assert haversine_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * EARTH_MEAN_RADIUS_M)


def test_across_the_antimeridian_is_short() -> None:
    assert haversine_m(0.0, 179.9995, 0.0, -179.9995) == pytest.approx(111.195, abs=0.01)


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric_and_bounded(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    d = haversine_m(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(haversine_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= d <= math.pi * EARTH_MEAN_RADIUS_M + 1e-6


@given(latitudes, longitudes, latitudes, longitudes, latitudes, longitudes)
def test_triangle_inequality(
    lat1: float, lon1: float, lat2: float, lon2: float, lat3: float, lon3: float
) -> None:
    direct = haversine_m(lat1, lon1, lat3, lon3)
    via = haversine_m(lat1, lon1, lat2, lon2) + haversine_m(lat2, lon2, lat3, lon3)
    assert direct <= via + 1e-3


def test_track_along_a_meridian_sums_to_the_route() -> None:
    # 10 km north at 54 km/h (150 m every 10 s)
    track = [point(10 * i, 41.0 + 150 * i / METRES_PER_DEGREE, -8.6, speed=54.0) for i in range(67)]
    assert track_distance_m(track) == pytest.approx(66 * 150, rel=1e-9)


def test_flagged_and_invalid_points_do_not_count() -> None:
    north = 1000 / METRES_PER_DEGREE
    track = [
        point(0, 41.0, -8.6, speed=50),
        point(10, 45.0, -8.6, speed=50, flagged="speed"),
        point(20, 41.0 + north, -8.6, speed=50, valid=False),
        point(30, 41.0 + 2 * north, -8.6, speed=50),
    ]
    assert track_distance_m(track) == pytest.approx(2000, rel=1e-9)


def test_out_of_order_points_are_sorted_first() -> None:
    north = 1000 / METRES_PER_DEGREE
    track = [point(10 * i, 41.0 + i * north, -8.6, speed=50) for i in range(5)]
    assert track_distance_m(reversed(track)) == pytest.approx(4000, rel=1e-9)


def parked(seconds: int, sigma_m: float, seed: int, every: int = 10) -> list[TrackPoint]:
    """A device parked at one place for ``seconds``, its fix wandering with Gaussian noise."""
    rng = random.Random(seed)
    lat0, lon0 = 41.15, -8.61
    metres_per_degree_lon = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    return [
        point(
            t,
            lat0 + rng.gauss(0, sigma_m) / METRES_PER_DEGREE,
            lon0 + rng.gauss(0, sigma_m) / metres_per_degree_lon,
            speed=rng.choice((0.0, 0.0, 0.0, 1.0, 2.0)),
        )
        for t in range(0, seconds + 1, every)
    ]


def test_a_parked_night_adds_no_distance() -> None:
    night = parked(8 * 3600, sigma_m=3.0, seed=1)
    assert track_distance_m(night) < 10.0
    # without the rule the same drift adds kilometres: the rule is what keeps it out
    assert track_distance_m(night, NO_JITTER_RULE) > 10_000


@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=0.5, max_value=4.0))
def test_parked_drift_stays_under_ten_metres(seed: int, sigma_m: float) -> None:
    assert track_distance_m(parked(2 * 3600, sigma_m=sigma_m, seed=seed)) < 10.0


def test_a_slow_real_move_is_counted_once_it_leaves_the_circle() -> None:
    # walking pace (2 km/h, under the rule's 3 km/h) for 100 m due north, a point every 10 s
    step = 2 / 3.6 * 10
    track = [point(10 * i, 41.0 + i * step / METRES_PER_DEGREE, -8.6, speed=2.0) for i in range(19)]
    true_length = 18 * step
    counted = track_distance_m(track)
    assert true_length - JitterRule().radius_m <= counted <= true_length + 1e-6


def test_steps_place_each_move_at_its_arrival() -> None:
    north = 500 / METRES_PER_DEGREE
    track = [point(0, 41.0, -8.6), point(10, 41.0 + north, -8.6, speed=50.0)]
    assert counted_steps_m(track) == [0.0, pytest.approx(500.0)]
    assert counted_steps_m([]) == []
