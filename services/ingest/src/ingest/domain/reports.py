"""What a device told us, whatever protocol it spoke. Protocol adapters turn decoded frames into
these; the handler turns them into events. Nothing here knows about bytes or sockets.

These are values, read-only by convention: plain slotted dataclasses rather than frozen ones,
because several are built for every frame and a frozen ``__init__`` costs several times more."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from trackstream_protocols.model import Fix


@dataclass(slots=True)
class Identify:
    """The device said who it is (login, registration, authentication, or a JT/T 808 header)."""

    identifier: str
    model: str = ""
    edition: str = ""
    #: the zone its clock runs in, when the login said
    timezone: tzinfo | None = None
    #: connection-oriented protocols announce sessions (DeviceConnected); HTTP ones do not
    announce: bool = True


@dataclass(slots=True)
class PositionReport:
    fix: Fix
    serial: int
    #: buffered while offline and uploaded late (JT/T 808 blind-area batch)
    archived: bool = False


@dataclass(slots=True)
class StatusReport:
    #: the device's own time, when the message carries one (else the time it was received)
    time: datetime | None
    serial: int
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class AlarmReport:
    #: Traccar alarm names (sos, powerCut, vibration, ...)
    alarm_types: tuple[str, ...]
    code: int
    time: datetime | None
    serial: int
    fix: Fix | None = None
    attributes: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class CommandReply:
    """The device answered a command; ``correlation`` is what ties it to the command we sent
    (GT06 server flag, JT/T 808 reply serial)."""

    correlation: int
    text: str
    success: bool = True


@dataclass(slots=True)
class MediaReport:
    media_id: int
    media_type: str  # image, audio, video
    content_type: str
    extension: str
    event_code: int
    channel: int
    data: bytes
    serial: int
    fix: Fix | None = None


@dataclass(slots=True)
class Logout:
    pass


Report = (
    Identify | PositionReport | StatusReport | AlarmReport | CommandReply | MediaReport | Logout
)


@dataclass(slots=True)
class Inbound:
    """One frame, decoded: what it reports, and the bytes to send back once it is durable."""

    reports: tuple[Report, ...]
    response: bytes | None
    serial: int = 0
    checksum_ok: bool = True
    #: a response that may go out before anything is stored (e.g. a time request)
    respond_immediately: bool = False
