"""Plausibility checks for every decoded position (Traccar's ``verifyDecodedPosition``).

Dependency-free on purpose (stdlib + the protocol-neutral ``Fix``): it moves to
``libs/testing`` later. Raises ``AssertionError`` with the reason, so it works in any test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from trackstream_protocols.model import Fix

#: 869 knots, Traccar's upper bound, in km/h
MAX_SPEED_KMH = 1609.0
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(hours=25)

#: Traccar's ``Position.ALARM_*`` vocabulary (protocols.md §7)
ALARMS = frozenset(
    {
        "general",
        "sos",
        "vibration",
        "movement",
        "lowspeed",
        "overspeed",
        "fallDown",
        "lowPower",
        "lowBattery",
        "fault",
        "powerOff",
        "powerOn",
        "door",
        "lock",
        "unlock",
        "geofence",
        "geofenceEnter",
        "geofenceExit",
        "gpsAntennaCut",
        "accident",
        "tow",
        "idle",
        "highRpm",
        "hardAcceleration",
        "hardBraking",
        "hardCornering",
        "laneChange",
        "fatigueDriving",
        "powerCut",
        "powerRestored",
        "jamming",
        "temperature",
        "parking",
        "bonnet",
        "footBrake",
        "fuelLeak",
        "tampering",
        "removing",
    }
)
_BOOLEAN = frozenset({"ignition", "charge", "blocked", "armed", "archive", "door", "motion"})
_INTEGER = frozenset({"rssi", "event", "status", "satellites", "geofence"})
_NUMBER = frozenset({"odometer", "power", "battery", "accuracy", "temp1"})


def verify_position(fix: Fix, *, now: datetime | None = None) -> Fix:
    """Assert ``fix`` is plausible; returns it so calls can be chained."""
    assert isinstance(fix, Fix), f"not a Fix: {fix!r}"
    when = fix.fix_time
    assert isinstance(when, datetime), f"fix_time is not a datetime: {when!r}"
    assert when.tzinfo is not None and when.utcoffset() == timedelta(0), (
        f"fix_time must be UTC-aware: {when!r}"
    )
    reference = now if now is not None else datetime.now(UTC)
    assert when > EARLIEST, f"fix_time {when} is not after 2000"
    assert when <= reference + MAX_AHEAD, f"fix_time {when} is more than 25 h in the future"
    for name, value, bound in (
        ("latitude", fix.latitude, 90.0),
        ("longitude", fix.longitude, 180.0),
    ):
        assert isinstance(value, float) and math.isfinite(value), f"{name} {value!r}"
        assert -bound <= value <= bound, f"{name} {value} out of range"
    assert isinstance(fix.speed_kmh, float) and 0.0 <= fix.speed_kmh <= MAX_SPEED_KMH, (
        f"speed {fix.speed_kmh!r} km/h out of range"
    )
    assert isinstance(fix.course_deg, float) and 0.0 <= fix.course_deg <= 360.0, (
        f"course {fix.course_deg!r} out of range"
    )
    assert isinstance(fix.valid, bool), f"valid must be a bool: {fix.valid!r}"
    if fix.satellites is not None:
        assert isinstance(fix.satellites, int) and 0 <= fix.satellites <= 255, fix.satellites
    if fix.altitude_m is not None:
        assert math.isfinite(fix.altitude_m), fix.altitude_m
    verify_attributes(fix.attributes)
    return fix


def verify_attributes(attributes: dict[str, object]) -> dict[str, object]:
    """Assert Traccar-vocabulary attributes have the expected types and ranges."""
    assert isinstance(attributes, dict), attributes
    for key, value in attributes.items():
        assert isinstance(key, str), key
        if key in _BOOLEAN:
            assert isinstance(value, bool), f"{key}={value!r} is not a bool"
        elif key in _INTEGER:
            assert isinstance(value, int) and not isinstance(value, bool), f"{key}={value!r}"
        elif key in _NUMBER:
            assert isinstance(value, int | float) and not isinstance(value, bool), (
                f"{key}={value!r}"
            )
            assert math.isfinite(value), f"{key}={value!r}"
        elif key == "batteryLevel":
            assert isinstance(value, int) and 0 <= value <= 100, f"batteryLevel={value!r}"
        elif key == "alarm":
            assert isinstance(value, str) and value, f"alarm={value!r}"
            unknown = set(value.split(",")) - ALARMS
            assert not unknown, f"alarm names outside Traccar's vocabulary: {unknown}"
    return attributes
