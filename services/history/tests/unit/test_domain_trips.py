"""Trips and stops on a synthetic day whose route and timings are known exactly, and on
crafted edge cases; the daily summary of that day against its trips.

The route runs along the meridian 8.6 W, where a distance d is exactly d / R radians of
latitude: 13.5 km north to work in the morning and back in the evening, at 54 km/h (150 m
per 10 s sample), with traffic lights and a level crossing on the way. Every position gets
3 m of Gaussian GPS noise (seeded).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from history.domain.geo import EARTH_MEAN_RADIUS_M
from history.domain.model import TrackPoint
from history.domain.summary import daily_summary
from history.domain.trips import Detection, TripRules, TripsAndStops, trips_and_stops

DEVICE = "862000000000001"
DAY = date(2024, 3, 5)
LATITUDE_0, LONGITUDE = 41.0, -8.6
METRES_PER_DEGREE = EARTH_MEAN_RADIUS_M * math.pi / 180
ROUTE_M = 13_500.0


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=UTC)


@dataclass(frozen=True)
class Phase:
    seconds: int
    speed_mps: float = 0.0  # signed: north positive
    ignition: bool = False


def drive(
    start: datetime,
    phases: Sequence[Phase],
    *,
    every: int = 10,
    noise_m: float = 3.0,
    seed: int = 1,
    ignition: bool = True,
    odometer_start_m: float | None = None,
) -> list[TrackPoint]:
    """Sample a journey made of phases every ``every`` seconds. Speeds change instantly at
    phase boundaries: a sample at the very start or end of a driving phase is at rest; the
    ignition at a sample is that of the phase starting there."""
    rng = random.Random(seed)
    metres_per_degree_lon = METRES_PER_DEGREE * math.cos(math.radians(LATITUDE_0))
    bounds: list[tuple[int, int, Phase, float]] = []  # start s, end s, phase, metres at start
    t, metres = 0, 0.0
    for phase in phases:
        bounds.append((t, t + phase.seconds, phase, metres))
        t += phase.seconds
        metres += phase.speed_mps * phase.seconds
    travelled = last_position = 0.0
    points: list[TrackPoint] = []
    for s in range(0, t + 1, every):
        index = next((k for k, b in enumerate(bounds) if b[0] <= s < b[1]), len(bounds) - 1)
        begin, end, phase, base = bounds[index]
        position = base + phase.speed_mps * (s - begin)
        travelled += abs(position - last_position)
        last_position = position
        moving = begin < s < end and phase.speed_mps != 0
        points.append(
            TrackPoint(
                device_id=DEVICE,
                fix_time=start + timedelta(seconds=s),
                latitude=LATITUDE_0
                + position / METRES_PER_DEGREE
                + rng.gauss(0, noise_m) / METRES_PER_DEGREE,
                longitude=LONGITUDE + rng.gauss(0, noise_m) / metres_per_degree_lon,
                speed_kmh=abs(phase.speed_mps) * 3.6 if moving else 0.0,
                course_deg=(0.0 if phase.speed_mps >= 0 else 180.0) if moving else 0.0,
                ignition=phase.ignition if ignition else None,
                odometer_m=None if odometer_start_m is None else odometer_start_m + travelled,
                satellites=9,
                altitude_m=80.0,
            )
        )
    return points


V = 15.0  # m/s, 54 km/h

SYNTHETIC_DAY = (
    Phase(3540),  # 06:30:00 parked at home
    Phase(60, ignition=True),  # 07:29:00 engine warms up
    Phase(400, V, True),  # 07:30:00 6 km north
    Phase(60, ignition=True),  # 07:36:40 red light
    Phase(300, V, True),  # 07:37:40 4.5 km
    Phase(240, ignition=True),  # 07:42:40 level crossing, 4 min
    Phase(200, V, True),  # 07:46:40 3 km
    Phase(32_940),  # 07:50:00 parked at work
    Phase(60, ignition=True),  # 16:59:00 engine on
    Phase(450, -V, True),  # 17:00:00 6.75 km south
    Phase(90, ignition=True),  # 17:07:30 red light
    Phase(450, -V, True),  # 17:09:00 6.75 km, home at 17:16:30
    Phase(2610),  # 17:16:30 parked until 18:00:00
)
MOVING_SECONDS = 400 + 300 + 200 + 450 + 450
IDLE_SECONDS = 60 + 60 + 240 + 60 + 90


def synthetic_day(**kw: object) -> list[TrackPoint]:
    return drive(at(6, 30), SYNTHETIC_DAY, **kw)  # type: ignore[arg-type]


def spans(result: TripsAndStops) -> tuple[list[tuple[datetime, datetime]], ...]:
    return (
        [(t.start_time, t.end_time) for t in result.trips],
        [(s.start_time, s.end_time) for s in result.stops],
    )


# --- the synthetic day ---------------------------------------------------------------------


def test_ignition_based_trips_and_stops() -> None:
    result = trips_and_stops(synthetic_day())
    assert result.detection is Detection.IGNITION
    trips, stops = spans(result)
    assert trips == [(at(7, 29), at(7, 50)), (at(16, 59), at(17, 16, 30))]
    assert stops == [
        (at(6, 30), at(7, 29)),
        (at(7, 50), at(16, 59)),
        (at(17, 16, 30), at(18, 0)),
    ]
    assert [s.duration for s in result.stops] == [
        timedelta(minutes=59),
        timedelta(hours=9, minutes=9),
        timedelta(minutes=43, seconds=30),
    ]
    assert all(s.ignition_on is False for s in result.stops)
    assert all(s.idle_duration == timedelta(0) for s in result.stops)


def test_motion_based_trips_and_stops_when_the_device_reports_no_ignition() -> None:
    result = trips_and_stops(synthetic_day(ignition=False))
    assert result.detection is Detection.MOTION
    trips, stops = spans(result)
    assert trips == [(at(7, 30), at(7, 50)), (at(17, 0), at(17, 16, 30))]
    assert stops == [(at(6, 30), at(7, 30)), (at(7, 50), at(17, 0)), (at(17, 16, 30), at(18, 0))]
    assert all(s.ignition_on is None and s.idle_duration is None for s in result.stops)


def test_motion_detection_forced_on_a_device_with_ignition_reports_the_warm_up_as_idle() -> None:
    result = trips_and_stops(synthetic_day(), TripRules(detection=Detection.MOTION))
    trips, _ = spans(result)
    assert trips == [(at(7, 30), at(7, 50)), (at(17, 0), at(17, 16, 30))]
    assert [s.idle_duration for s in result.stops] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(0),
    ]
    assert [s.ignition_on for s in result.stops] == [False, False, False]


@pytest.mark.parametrize("ignition", [True, False])
def test_trip_distance_within_one_percent_of_the_route(ignition: bool) -> None:
    result = trips_and_stops(synthetic_day(ignition=ignition))
    for trip in result.trips:
        assert abs(trip.distance_m - ROUTE_M) / ROUTE_M < 0.01
        # 3 m of noise at each end and on each 150 m step: tens of metres at most
        assert abs(trip.distance_m - ROUTE_M) < 30.0


def test_trip_figures() -> None:
    morning, evening = trips_and_stops(synthetic_day(ignition=False)).trips
    assert morning.device_id == DEVICE
    assert morning.duration == timedelta(minutes=20)
    assert morning.max_speed_kmh == pytest.approx(54.0)
    assert morning.average_speed_kmh == pytest.approx(ROUTE_M / 1200 * 3.6, rel=0.01)
    assert morning.start_latitude == pytest.approx(LATITUDE_0, abs=1e-4)
    assert morning.end_latitude == pytest.approx(LATITUDE_0 + ROUTE_M / METRES_PER_DEGREE, abs=1e-4)
    assert evening.end_latitude == pytest.approx(LATITUDE_0, abs=1e-4)
    assert morning.start_odometer_m is None


def test_trip_distance_from_the_odometer_when_every_point_has_one() -> None:
    result = trips_and_stops(synthetic_day(odometer_start_m=120_000_000.0))
    morning, evening = result.trips
    assert morning.distance_m == pytest.approx(ROUTE_M, abs=1e-6)
    assert evening.distance_m == pytest.approx(ROUTE_M, abs=1e-6)
    assert morning.start_odometer_m == pytest.approx(120_000_000.0)
    assert evening.end_odometer_m == pytest.approx(120_000_000.0 + 2 * ROUTE_M)


def test_a_missing_odometer_reading_falls_back_to_haversine() -> None:
    points = synthetic_day(odometer_start_m=1_000.0, noise_m=0.0)
    points[300] = replace(points[300], odometer_m=None)  # 07:20, before the first trip
    points[400] = replace(points[400], odometer_m=None)  # 07:36:40, inside it
    morning, evening = trips_and_stops(points).trips
    assert morning.distance_m == pytest.approx(ROUTE_M, rel=1e-9)
    assert evening.distance_m == pytest.approx(ROUTE_M, abs=1e-6)


def test_parked_jitter_adds_under_ten_metres() -> None:
    noisy = trips_and_stops(synthetic_day(noise_m=3.0, seed=5))
    clean = trips_and_stops(synthetic_day(noise_m=0.0))
    assert [t.distance_m for t in clean.trips] == pytest.approx([ROUTE_M, ROUTE_M], rel=1e-9)
    summary = daily_summary(synthetic_day(noise_m=3.0, seed=5), device_id=DEVICE, day=DAY)
    parked_extra = summary.distance_m - sum(t.distance_m for t in noisy.trips)
    assert -1e-6 <= parked_extra < 10.0


@given(st.integers(min_value=0, max_value=2**32))
@settings(max_examples=15, deadline=None)
def test_shuffled_input_gives_the_same_result(seed: int) -> None:
    points = synthetic_day()
    expected = trips_and_stops(points)
    shuffled = list(points)
    random.Random(seed).shuffle(shuffled)
    assert trips_and_stops(shuffled) == expected


def test_late_and_repeated_points_give_the_same_result() -> None:
    points = synthetic_day()
    expected = trips_and_stops(points)
    late = points[::2] + points[1::2] + points[500:520]  # odd points late, some twice
    assert trips_and_stops(late) == expected


def test_flagged_and_invalid_points_are_left_out() -> None:
    points = synthetic_day(noise_m=0.0)
    expected = trips_and_stops(points)
    # the same day with a bogus jump 2 km sideways and a no-fix point while driving
    spoiled = list(points)
    spoiled[380] = replace(spoiled[380], longitude=LONGITUDE + 0.03, flagged="speed")
    spoiled[390] = replace(spoiled[390], latitude=LATITUDE_0, valid=False)
    result = trips_and_stops(spoiled)
    assert spans(result) == spans(expected)
    assert [t.distance_m for t in result.trips] == pytest.approx([ROUTE_M, ROUTE_M], rel=1e-9)


def test_a_gap_while_driving_ends_the_trip_at_the_last_point() -> None:
    points = [p for p in synthetic_day() if not at(7, 40) <= p.fix_time < at(8, 20)]
    result = trips_and_stops(points)
    trips, stops = spans(result)
    assert trips[0] == (at(7, 29), at(7, 39, 50))
    # 6 km, then 130 s of the 4.5 km leg
    assert result.trips[0].distance_m == pytest.approx(6000 + 130 * V, rel=0.01)
    # the device reappears parked 5.5 km further on: the stop starts there, not before the gap
    assert stops[1] == (at(8, 20), at(16, 59))


# --- crafted cases ---------------------------------------------------------------------------


def test_a_gap_splits_a_drive_into_two_trips() -> None:
    phases = (Phase(600), Phase(5400, 25.0, True), Phase(600))  # 90 min at 90 km/h
    points = drive(at(10, 0), phases, noise_m=0.0)
    holed = [p for p in points if not at(10, 40) < p.fix_time < at(11, 20)]
    result = trips_and_stops(holed)
    trips, stops = spans(result)
    assert trips == [(at(10, 10), at(10, 40)), (at(11, 20), at(11, 40))]
    assert [t.distance_m for t in result.trips] == pytest.approx([30 * 60 * 25.0, 20 * 60 * 25.0])
    assert stops == [(at(10, 0), at(10, 10)), (at(11, 40), at(11, 50))]  # none at the gap
    # a longer max_gap bridges the hole: one trip, the straight line across counted
    (whole,) = trips_and_stops(holed, TripRules(max_gap=timedelta(hours=1))).trips
    assert (whole.start_time, whole.end_time) == (at(10, 10), at(11, 40))
    assert whole.distance_m == pytest.approx(5400 * 25.0, rel=1e-9)


def test_a_sleeping_parked_device_stays_in_one_stop() -> None:
    before = drive(at(0, 0), (Phase(600),), seed=1)
    after = drive(at(4, 0), (Phase(600),), seed=2)  # same place, 3 h 50 min later
    (stop,) = trips_and_stops(before + after).stops
    assert (stop.start_time, stop.end_time) == (at(0, 0), at(4, 10))
    assert stop.idle_duration == timedelta(0)


def test_a_short_move_is_not_a_trip() -> None:
    # 150 m across a car park between two long waits
    points = drive(at(9, 0), (Phase(900), Phase(30, 5.0, True), Phase(900)), noise_m=0.0)
    result = trips_and_stops(points)
    assert result.trips == ()
    (stop,) = result.stops
    assert (stop.start_time, stop.end_time) == (at(9, 0), at(9, 30, 30))


def test_a_short_but_quick_hop_is_not_a_trip() -> None:
    # 250 m in 40 s: far enough, too brief
    points = drive(at(9, 0), (Phase(900), Phase(40, 6.25, True), Phase(900)), noise_m=0.0)
    assert trips_and_stops(points).trips == ()
    longer = drive(at(9, 0), (Phase(900), Phase(60, 6.25, True), Phase(900)), noise_m=0.0)
    assert len(trips_and_stops(longer).trips) == 1


def test_idling_in_the_driveway_is_an_idle_stop_not_a_trip() -> None:
    points = drive(at(9, 0), (Phase(600), Phase(900, ignition=True), Phase(600)))
    result = trips_and_stops(points)
    assert result.trips == ()
    (stop,) = result.stops
    assert stop.duration == timedelta(minutes=35)
    assert stop.idle_duration == timedelta(minutes=15)
    assert stop.ignition_on is False  # off for most of it
    only_idle = drive(at(9, 0), (Phase(900, ignition=True), Phase(10)))
    assert trips_and_stops(only_idle).stops[0].ignition_on is True


@pytest.mark.parametrize(
    ("wait", "trip_count"),
    [(timedelta(minutes=4, seconds=50), 1), (timedelta(minutes=5), 2)],
)
def test_a_stop_of_min_stop_splits_the_trip(wait: timedelta, trip_count: int) -> None:
    phases = (
        Phase(600),
        Phase(300, V),
        Phase(int(wait.total_seconds())),
        Phase(300, V),
        Phase(600),
    )
    result = trips_and_stops(drive(at(9, 0), phases, ignition=False))
    assert len(result.trips) == trip_count
    if trip_count == 2:
        assert [s.duration for s in result.stops] == [
            timedelta(minutes=10),
            wait,
            timedelta(minutes=10),
        ]


def test_a_parked_heartbeat_does_not_start_the_trip() -> None:
    # parked, reporting every 5 min; the first report after leaving comes at 09:20:10
    points = drive(at(9, 0), (Phase(1200), Phase(600, V), Phase(600)), ignition=False, seed=3)
    sparse = [
        p
        for p in points
        if p.fix_time >= at(9, 20, 10) or (p.fix_time < at(9, 20) and p.fix_time.minute % 5 == 0)
    ]
    sparse = [p for p in sparse if p.fix_time.second == 0 or p.fix_time >= at(9, 20, 10)]
    (trip,) = trips_and_stops(sparse).trips
    assert trip.start_time == at(9, 20, 10)
    assert trip.end_time == at(9, 30)


def test_towing_with_the_ignition_off_is_still_a_trip() -> None:
    points = drive(at(9, 0), (Phase(600), Phase(600, 10.0, False), Phase(600)))
    (trip,) = trips_and_stops(points).trips
    assert (trip.start_time, trip.end_time) == (at(9, 10), at(9, 20))


def test_ignition_reported_only_on_change_carries_forward() -> None:
    points = synthetic_day()
    sparse = [
        p if i == 0 or p.ignition != points[i - 1].ignition else replace(p, ignition=None)
        for i, p in enumerate(points)
    ]
    assert spans(trips_and_stops(sparse)) == spans(trips_and_stops(points))


def test_idling_mid_trip_with_the_engine_on() -> None:
    # a 6 min delivery with the engine running; ignition reported only when it changes
    phases = (Phase(600), Phase(300, V, True), Phase(360, ignition=True), Phase(300, V, True))
    points = drive(at(9, 0), (*phases, Phase(600)))
    on_change = [
        p if i == 0 or p.ignition != points[i - 1].ignition else replace(p, ignition=None)
        for i, p in enumerate(points)
    ]
    (trip,) = trips_and_stops(on_change).trips
    assert (trip.start_time, trip.end_time) == (at(9, 10), at(9, 26))
    # by motion it is two trips and an idle stop
    result = trips_and_stops(on_change, TripRules(detection=Detection.MOTION))
    assert spans(result)[0] == [(at(9, 10), at(9, 15)), (at(9, 21), at(9, 26))]
    idle = result.stops[1]
    assert (idle.start_time, idle.end_time) == (at(9, 15), at(9, 21))
    assert idle.ignition_on is True
    assert idle.idle_duration == timedelta(minutes=6)


def test_addresses_come_from_the_points() -> None:
    points = synthetic_day(noise_m=0.0)
    points = [
        replace(p, address="Home, Rua A") if p.latitude < LATITUDE_0 + 1e-5 else p for p in points
    ]
    morning, evening = trips_and_stops(points).trips
    assert morning.start_address == "Home, Rua A"
    assert morning.end_address is None
    assert evening.end_address == "Home, Rua A"
    assert trips_and_stops(points).stops[0].address == "Home, Rua A"


def test_no_points() -> None:
    assert trips_and_stops([]) == TripsAndStops((), (), Detection.MOTION)


# --- the summary of the synthetic day ------------------------------------------------------


def test_summary_distance_equals_the_sum_of_the_trips() -> None:
    points = synthetic_day()
    trips = trips_and_stops(points).trips
    summary = daily_summary(points, device_id=DEVICE, day=DAY)
    assert summary.trip_count == 2
    trip_total = sum(t.distance_m for t in trips)
    assert summary.distance_m == pytest.approx(trip_total, rel=0.01)
    assert summary.distance_m == pytest.approx(2 * ROUTE_M, rel=0.01)


def test_summary_times_of_the_synthetic_day() -> None:
    summary = daily_summary(synthetic_day(), device_id=DEVICE, day=DAY)
    assert summary.moving_time == timedelta(seconds=MOVING_SECONDS)
    assert summary.idle_time == timedelta(seconds=IDLE_SECONDS)
    assert summary.engine_hours == timedelta(seconds=MOVING_SECONDS + IDLE_SECONDS)
    assert summary.max_speed_kmh == pytest.approx(54.0)
    assert summary.point_count == 4141
    assert (summary.start_odometer_m, summary.end_odometer_m) == (None, None)


def test_summary_without_ignition_reports() -> None:
    summary = daily_summary(synthetic_day(ignition=False), device_id=DEVICE, day=DAY)
    assert summary.engine_hours is None and summary.idle_time is None
    assert summary.moving_time == timedelta(seconds=MOVING_SECONDS)


def test_summary_with_odometer() -> None:
    summary = daily_summary(synthetic_day(odometer_start_m=5_000.0), device_id=DEVICE, day=DAY)
    assert summary.start_odometer_m == pytest.approx(5_000.0)
    assert summary.end_odometer_m == pytest.approx(5_000.0 + summary.distance_m)
    assert summary.distance_m == pytest.approx(2 * ROUTE_M, abs=1e-6)


def test_summary_of_another_day_is_empty() -> None:
    summary = daily_summary(synthetic_day(), device_id=DEVICE, day=date(2024, 3, 6))
    assert summary.distance_m == 0.0
    assert summary.trip_count == 0
    assert summary.point_count == 0
    assert summary.moving_time == timedelta(0)
