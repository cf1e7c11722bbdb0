"""The typed messages :func:`decode` returns, one class per message kind.

They are values: treat them as read-only. They are deliberately not ``frozen`` dataclasses: a
frozen ``__init__`` sets every field through ``object.__setattr__`` and made building the few
objects of one frame cost more than decoding it (see benchmarks/README.md).

Every message keeps its ``protocol`` number and ``serial`` (None only for the uncounted Wi-Fi
variant), which is all an acknowledgement needs. ``attributes`` use Traccar's attribute
vocabulary (ignition, charge, blocked, batteryLevel, battery, power, rssi, alarm, odometer, ...);
when a message carries a position, ``fix.attributes`` holds the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower, WifiAccessPoint

__all__ = [
    "Gt06Alarm",
    "Gt06CellReport",
    "Gt06DashcamAlarm",
    "Gt06Heartbeat",
    "Gt06Info",
    "Gt06Location",
    "Gt06Login",
    "Gt06Message",
    "Gt06TextReply",
    "Gt06TimeRequest",
    "Gt06WifiReport",
    "UnknownMessage",
]


@dataclass(slots=True, kw_only=True)
class Gt06Message:
    """Fields every GT06 message has."""

    protocol: int
    serial: int | None


@dataclass(slots=True, kw_only=True)
class Gt06Login(Gt06Message):
    """0x01. ``imei`` has 15 digits; ``type_id`` and the timezone/language word are optional
    (short logins carry only the IMEI). ``timezone`` is None when the word is absent or out of
    range. The device's timestamps are local to that zone: pass it as ``tz`` to :func:`decode`."""

    imei: str
    type_id: int | None = None
    timezone: timezone | None = None
    language: int | None = None
    timezone_word: int | None = None


@dataclass(slots=True, kw_only=True)
class Gt06Location(Gt06Message):
    """GPS (0x10) and GPS+LBS (0x11, 0x12, 0x22, 0x2D, 0x31, 0x37, 0xA0).

    ``fix`` is None only when the device sent an impossible date (e.g. a zeroed GPS block).
    """

    fix: Fix | None
    cell: CellTower | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06Alarm(Gt06Message):
    """GPS+LBS+status alarm packets 0x16, 0x26, 0x27 and 4G 0xA4.

    ``alarm`` is the comma-joined Traccar alarm name(s) from the alarm code and the status
    bits (None if neither means anything); ``alarm_code`` is the raw code (12 bits for
    0x27/0xA4); ``geofence`` the fence number for 0x27/0xA4 (None when 0xFF or absent).
    """

    fix: Fix | None
    cell: CellTower | None
    alarm: str | None
    alarm_code: int
    geofence: int | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06Heartbeat(Gt06Message):
    """Status/heartbeat 0x13 and 0x23 (GK310): no position, only device state attributes."""

    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06CellReport(Gt06Message):
    """Multi-cell LBS reports 0x18, 0x24, 0x28, 0x2E and 4G 0xA1 (serving cell first)."""

    device_time: datetime | None
    cell_towers: tuple[CellTower, ...]
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06WifiReport(Gt06Message):
    """Wi-Fi reports: LBS+Wi-Fi 0x2C, and 0x17/0x69 (usually the uncounted variant).

    ``time_bcd`` keeps the six raw BCD time bytes of the uncounted variant, which its
    acknowledgement echoes.
    """

    device_time: datetime | None
    access_points: tuple[WifiAccessPoint, ...]
    cell_towers: tuple[CellTower, ...]
    time_bcd: bytes | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06TextReply(Gt06Message):
    """Text from the device: 0x15 (old) or 0x21 (current) reply to a 0x80 command.

    ``server_flag`` echoes the flag the command carried. ``attributes`` hold ``result``
    (Traccar's command-result key) or ``iccid`` for ``<ICCID:...>`` replies; ``fix`` is set when
    the text is a "Current position!" report.
    """

    server_flag: int
    text: str
    fix: Fix | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06Info(Gt06Message):
    """Information transfer 0x94. ``subtype`` is None for the old ``78 78`` form that carries
    only the external voltage. Decoded values are in ``attributes`` (``power`` in volts,
    ``iccid``, ``imei``, ``imsi``, ``door``...); ``data`` keeps the raw sub-type payload."""

    subtype: int | None
    data: bytes
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Gt06TimeRequest(Gt06Message):
    """0x8A: the device asks for the current UTC time (answer with the time response)."""


@dataclass(slots=True, kw_only=True)
class Gt06DashcamAlarm(Gt06Message):
    """0x95 alarm/event of JC100/JC261/JC400 cameras.

    The short form carries only the device time; the extended form also a position, a 2-byte
    ``alarm_value`` (e.g. the speed for overspeed) and, on JC400, the names of the event video
    files (``event_files``).
    """

    device_time: datetime | None
    fix: Fix | None
    alarm: str
    alarm_code: int
    alarm_value: int | None = None
    event_files: tuple[str, ...] = ()
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class UnknownMessage(Gt06Message):
    """A protocol number this codec does not decode; kept raw (and still acknowledgeable)."""

    content: bytes
    extended: bool = False
