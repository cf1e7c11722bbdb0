"""Daily summaries: day boundaries, time zones, gaps, ignition and odometer. (The synthetic
day's summary against its trips is in test_domain_trips.py.)"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from history.domain.geo import EARTH_MEAN_RADIUS_M
from history.domain.model import TrackPoint
from history.domain.summary import daily_summary

METRES_PER_DEGREE = EARTH_MEAN_RADIUS_M * math.pi / 180
DEVICE = "dev-7"


def straight_drive(
    start: datetime,
    minutes: int,
    *,
    speed_mps: float = 20.0,
    every: int = 10,
    ignition: bool | None = None,
    odometer_start_m: float | None = None,
) -> list[TrackPoint]:
    """Due north along 8.6 W at a constant speed, a point every ``every`` seconds."""
    points = []
    for i in range(minutes * 60 // every + 1):
        metres = speed_mps * every * i
        points.append(
            TrackPoint(
                device_id=DEVICE,
                fix_time=start + timedelta(seconds=every * i),
                latitude=41.0 + metres / METRES_PER_DEGREE,
                longitude=-8.6,
                speed_kmh=speed_mps * 3.6,
                ignition=ignition,
                odometer_m=None if odometer_start_m is None else odometer_start_m + metres,
            )
        )
    return points


def test_a_drive_across_midnight_is_shared_between_the_days() -> None:
    # 23:55:05 to 00:05:05 at 20 m/s: 12 km, the move 23:59:55 -> 00:00:05 split in half
    points = straight_drive(datetime(2024, 3, 5, 23, 55, 5, tzinfo=UTC), 10)
    first = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 5))
    second = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 6))
    assert first.distance_m == pytest.approx(295 * 20.0)
    assert second.distance_m == pytest.approx(305 * 20.0)
    assert first.distance_m + second.distance_m == pytest.approx(600 * 20.0)
    assert first.moving_time == timedelta(seconds=295)
    assert second.moving_time == timedelta(seconds=305)
    # the trip is counted on the day it starts
    assert (first.trip_count, second.trip_count) == (1, 0)
    assert (first.point_count, second.point_count) == (30, 31)


def test_the_day_is_local_to_the_given_time_zone() -> None:
    brasilia = timezone(timedelta(hours=-3))
    # 01:00-01:30 UTC on the 6th is 22:00-22:30 on the 5th in Brasilia
    points = straight_drive(datetime(2024, 3, 6, 1, 0, tzinfo=UTC), 30)
    local_5th = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 5), tz=brasilia)
    local_6th = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 6), tz=brasilia)
    utc_6th = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 6))
    assert local_5th.distance_m == pytest.approx(36_000.0)
    assert local_5th.trip_count == 1
    assert local_6th.distance_m == 0.0 and local_6th.trip_count == 0
    assert utc_6th.distance_m == pytest.approx(36_000.0)
    assert local_5th.start_time == datetime(2024, 3, 5, 3, 0, tzinfo=UTC)


def test_a_daylight_saving_day_has_23_hours() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    summary = daily_summary([], device_id=DEVICE, day=date(2024, 3, 31), tz=lisbon)
    assert summary.end_time.astimezone(UTC) - summary.start_time.astimezone(UTC) == timedelta(
        hours=23
    )
    assert summary.start_time == datetime(2024, 3, 31, 0, 0, tzinfo=UTC)
    # a drive across the whole local day: 23 h of moving time, not 24
    points = straight_drive(datetime(2024, 3, 30, 23, 0, tzinfo=UTC), 25 * 60, every=600)
    whole_day = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 31), tz=lisbon)
    assert whole_day.moving_time == timedelta(hours=23)


def test_engine_hours_skip_a_silence_longer_than_max_gap() -> None:
    start = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    before = straight_drive(start, 10, ignition=True)
    after = straight_drive(start + timedelta(hours=2), 10, ignition=True)
    summary = daily_summary(before + after, device_id=DEVICE, day=date(2024, 3, 5))
    assert summary.engine_hours == timedelta(minutes=20)
    assert summary.moving_time == timedelta(minutes=20)
    assert summary.idle_time == timedelta(0)
    assert summary.trip_count == 2


def test_distance_across_a_gap_is_counted() -> None:
    start = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    points = straight_drive(start, 120)
    holed = [
        p
        for p in points
        if not start + timedelta(minutes=30) < p.fix_time < start + timedelta(minutes=90)
    ]
    summary = daily_summary(holed, device_id=DEVICE, day=date(2024, 3, 5))
    assert summary.distance_m == pytest.approx(120 * 60 * 20.0)
    assert summary.moving_time == timedelta(minutes=60)


def test_idle_time_is_ignition_on_without_moving() -> None:
    start = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    idling = [
        TrackPoint(DEVICE, start + timedelta(seconds=10 * i), 41.0, -8.6, 0.0, ignition=True)
        for i in range(61)
    ]
    summary = daily_summary(idling, device_id=DEVICE, day=date(2024, 3, 5))
    assert summary.idle_time == timedelta(minutes=10)
    assert summary.engine_hours == timedelta(minutes=10)
    assert summary.moving_time == timedelta(0)
    assert summary.trip_count == 0


def test_a_speed_spike_of_a_still_device_is_not_moving() -> None:
    start = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    still = [
        TrackPoint(DEVICE, start + timedelta(seconds=10 * i), 41.0, -8.6, 8.0 if i == 3 else 0.0)
        for i in range(10)
    ]
    assert daily_summary(still, device_id=DEVICE, day=date(2024, 3, 5)).moving_time == (
        timedelta(0)
    )


def test_odometer_figures_come_from_the_day() -> None:
    points = straight_drive(
        datetime(2024, 3, 5, 23, 50, tzinfo=UTC), 20, odometer_start_m=1_000_000.0
    )
    first = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 5))
    second = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 6))
    assert first.start_odometer_m == pytest.approx(1_000_000.0)
    assert first.end_odometer_m == pytest.approx(1_000_000.0 + 590 * 20.0)
    assert second.start_odometer_m == pytest.approx(1_000_000.0 + 600 * 20.0)
    assert first.distance_m == pytest.approx(600 * 20.0)  # up to midnight exactly
    assert second.distance_m == pytest.approx(600 * 20.0)


def test_flagged_points_are_left_out() -> None:
    points = straight_drive(datetime(2024, 3, 5, 8, 0, tzinfo=UTC), 10)
    points[5] = TrackPoint(DEVICE, points[5].fix_time, 48.0, 2.3, speed_kmh=990.0, flagged="speed")
    summary = daily_summary(points, device_id=DEVICE, day=date(2024, 3, 5))
    assert summary.max_speed_kmh == pytest.approx(72.0)
    assert summary.distance_m == pytest.approx(600 * 20.0)
    assert summary.point_count == 60


def test_no_points() -> None:
    summary = daily_summary([], device_id=DEVICE, day=date(2024, 3, 5))
    assert summary.device_id == DEVICE
    assert summary.distance_m == 0.0
    assert summary.max_speed_kmh == 0.0
    assert summary.engine_hours is None
    assert summary.start_odometer_m is None
