"""Protocol-neutral values that every codec produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Fix:
    """One position fix as a device reported it, in SI-ish units the rest of the platform uses.

    ``fix_time`` is timezone-aware UTC. ``speed_kmh`` is km/h, ``course_deg`` 0..360,
    ``altitude_m`` metres (None when the protocol has none). ``valid`` is the device's own
    "GNSS fixed" flag; an invalid fix still carries the last coordinates the device sent.

    A value: treat it as read-only (use :func:`dataclasses.replace` for a changed copy). It is
    not ``frozen`` because a frozen ``__init__`` costs several times a plain one, once per
    position on the ingest path.
    """

    fix_time: datetime
    latitude: float
    longitude: float
    speed_kmh: float
    course_deg: float
    valid: bool
    satellites: int | None = None
    altitude_m: float | None = None
    #: other decoded values, named with Traccar's attribute vocabulary where one exists
    #: (ignition, charge, blocked, batteryLevel, power, rssi, odometer, fuel, ...)
    attributes: dict[str, object] = field(default_factory=dict)
