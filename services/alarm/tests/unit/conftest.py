"""Helpers for the alarm unit tests: positions along a scripted track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alarm.domain.model import Position

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
#: about 1 m of latitude
LAT_M = 1 / 110_574.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def pos(seconds: float, lat: float = 41.0, lon: float = 29.0, **values: Any) -> Position:
    fields: dict[str, Any] = {"speed_kmh": 30.0, "ignition": True}
    fields.update(values)
    return Position(device_id="dev-1", time=at(seconds), latitude=lat, longitude=lon, **fields)
