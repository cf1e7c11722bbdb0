"""Routes: reproducible from a seed, around the centre, physically consistent."""

from __future__ import annotations

import itertools
import math

import pytest

from trackstream_simulator.route import (
    DEFAULT_CENTRE,
    EARTH_RADIUS_M,
    Leg,
    Route,
    Sample,
    generate_route,
)


def metres(a: Sample, b: Sample) -> float:
    """Haversine distance between two samples."""
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def first(route: Route, n: int, interval_s: float = 10.0) -> list[Sample]:
    return list(itertools.islice(route.samples(interval_s), n))


def centre_sample(lat: float, lon: float) -> Sample:
    return Sample(0.0, lat, lon, 0.0, 0.0, False, 0.0)


def test_the_same_seed_gives_the_same_route_and_another_seed_another() -> None:
    assert generate_route(1) == generate_route(1)
    assert first(generate_route(1), 50) == first(generate_route(1), 50)
    assert generate_route(1) != generate_route(2)
    assert generate_route("1:gt06:0") != generate_route("1:gt06:1")


@pytest.mark.parametrize("seed", range(20))
def test_every_position_stays_near_the_centre(seed: int) -> None:
    route = generate_route(seed, radius_m=3000.0)
    centre = centre_sample(*DEFAULT_CENTRE)
    for sample in first(route, 400):
        # corners of the street grid stay within radius * sqrt(2)
        assert metres(centre, sample) <= 3000.0 * math.sqrt(2) + 1.0


def test_a_custom_centre_is_honoured() -> None:
    route = generate_route(3, centre=(-33.8688, 151.2093), radius_m=1000.0)
    for sample in first(route, 200):
        assert metres(centre_sample(-33.8688, 151.2093), sample) <= 1000.0 * math.sqrt(2) + 1.0


@pytest.mark.parametrize("seed", range(20))
def test_movement_matches_speed_and_time(seed: int) -> None:
    route = generate_route(seed)
    samples = first(route, 600, interval_s=5.0)
    for a, b in itertools.pairwise(samples):
        distance = metres(a, b)
        # never faster than the faster of the two speeds allows (turns cut corners)
        assert distance <= max(a.speed_kmh, b.speed_kmh) / 3.6 * 5.0 + 0.5
        assert b.odometer_m >= a.odometer_m
        if a.moving and b.moving and a.course_deg == b.course_deg and a.speed_kmh == b.speed_kmh:
            # on one straight leg: exactly speed x time, and the odometer agrees
            assert distance == pytest.approx(a.speed_kmh / 3.6 * 5.0, rel=1e-3, abs=0.05)
            assert b.odometer_m - a.odometer_m == pytest.approx(distance, rel=1e-3, abs=0.05)


@pytest.mark.parametrize("seed", range(10))
def test_speeds_courses_and_stops_are_realistic(seed: int) -> None:
    route = generate_route(seed, stop_share=1.0)
    samples = first(route, int(route.cycle_s // 10) + 1)
    speeds = {s.speed_kmh for s in samples if s.moving}
    assert speeds and all(25.0 <= v <= 110.0 for v in speeds)
    assert all(0.0 <= s.course_deg < 360.0 for s in samples)
    stopped = [s for s in samples if not s.moving]
    assert stopped and all(s.speed_kmh == 0.0 for s in stopped)
    # a street grid: every heading is the grid angle plus a multiple of 90 degrees
    courses = sorted({round(s.course_deg, 6) for s in samples})
    assert 2 <= len(courses) <= 4
    for course in courses:
        assert (course - courses[0]) % 90 == pytest.approx(0, abs=1e-6) or (
            course - courses[0]
        ) % 90 == pytest.approx(90, abs=1e-6)


def test_a_stop_keeps_the_vehicle_in_place_with_its_heading() -> None:
    route = Route(
        centre=DEFAULT_CENTRE,
        legs=(Leg((0, 0), (100, 0), 36.0, stop_s=30.0), Leg((100, 0), (0, 0), 36.0)),
    )
    assert route.cycle_s == pytest.approx(10 + 30 + 10)
    assert route.length_m == pytest.approx(200.0)
    driving, stopped_a, stopped_b, back = (route.at(t) for t in (5.0, 15.0, 39.0, 45.0))
    assert driving.moving and driving.speed_kmh == 36.0 and driving.course_deg == 90.0
    assert not stopped_a.moving and stopped_a.speed_kmh == 0.0 and stopped_a.course_deg == 90.0
    assert (stopped_a.latitude, stopped_a.longitude) == (stopped_b.latitude, stopped_b.longitude)
    assert back.moving and back.course_deg == 270.0
    assert driving.odometer_m == pytest.approx(50.0)
    assert back.odometer_m == pytest.approx(150.0)


def test_the_loop_repeats_and_the_odometer_keeps_counting() -> None:
    route = generate_route(5)
    a, b = route.at(123.0), route.at(123.0 + route.cycle_s)
    assert (a.latitude, a.longitude, a.speed_kmh, a.course_deg) == pytest.approx(
        (b.latitude, b.longitude, b.speed_kmh, b.course_deg)
    )
    assert b.odometer_m == pytest.approx(a.odometer_m + route.length_m)


def test_samples_are_spaced_by_the_interval() -> None:
    samples = first(generate_route(1), 5, interval_s=10.0)
    assert [s.offset_s for s in samples] == [0.0, 10.0, 20.0, 30.0, 40.0]
    shifted = list(itertools.islice(generate_route(1).samples(7.5, start_offset_s=100.0), 3))
    assert [s.offset_s for s in shifted] == [100.0, 107.5, 115.0]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: generate_route(1, radius_m=0),
        lambda: Route(DEFAULT_CENTRE, ()),
        lambda: Route(DEFAULT_CENTRE, (Leg((0, 0), (1, 1), 0.0),)),
        lambda: generate_route(1).at(-1.0),
        lambda: next(generate_route(1).samples(0.0)),
    ],
)
def test_bad_arguments_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]
