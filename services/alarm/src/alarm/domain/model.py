"""What the alarm engine reads and raises: plain values, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from alarm.domain.catalogue import AlarmType, Severity

#: the namespace of alarm ids (UUID5): never change it, or replays raise new ids
ALARM_NAMESPACE = uuid.UUID("6f1d8a52-2f0e-5a4e-9a55-7c8c2b0e7a11")


class AlarmOrigin(IntEnum):
    UNSPECIFIED = 0
    DEVICE = 1
    PLATFORM = 2


class InvalidInput(ValueError):
    """A geofence or rule the engine cannot use; the message is one line, for the caller."""


@dataclass(slots=True)
class Position:
    """One reported position, as the engine needs it. Made once per position consumed, so a
    plain (not frozen) dataclass, whose ``__init__`` costs a third of a frozen one's: treat it
    as read-only (states and alarms share it)."""

    device_id: str
    time: datetime
    latitude: float
    longitude: float
    speed_kmh: float
    course_deg: float = 0.0
    valid: bool = True
    archived: bool = False
    ignition: bool | None = None
    battery_percent: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceAlarm:
    """An alarm the device raised itself."""

    device_id: str
    time: datetime
    protocol_alarm_type: str
    protocol_code: int
    position: Position | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alarm:
    alarm_id: str
    device_id: str
    account_id: str
    type: AlarmType
    severity: Severity
    origin: AlarmOrigin
    time: datetime
    position: Position | None = None
    rule_id: str = ""
    geofence_id: str = ""
    protocol_code: int = 0
    protocol_alarm_type: str = ""
    details: dict[str, str] = field(default_factory=dict)


def alarm_id(device_id: str, source_id: str, kind: AlarmType, window: str) -> str:
    """Stable: the same (device, rule or geofence, kind, triggering event or window start)
    always gives the same id, so a replayed input raises the same alarms."""
    return str(uuid.uuid5(ALARM_NAMESPACE, f"{device_id}|{source_id}|{kind.name}|{window}"))
