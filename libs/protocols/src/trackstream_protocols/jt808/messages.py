"""Message ids, result codes and the typed uplink messages the decoder produces."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from trackstream_protocols.model import Fix

__all__ = [
    "AdditionalInfo",
    "Authenticate",
    "GeneralResult",
    "Heartbeat",
    "Jt808Message",
    "Location",
    "LocationBatch",
    "LocationQueryResponse",
    "Logout",
    "MediaEvent",
    "MediaFormat",
    "MediaType",
    "MsgId",
    "MultimediaData",
    "MultimediaEvent",
    "Register",
    "RegisterResult",
    "SnapResponse",
    "SubPackage",
    "TerminalControlCommand",
    "TerminalResponse",
    "UnknownMessage",
]


class MsgId(IntEnum):
    """Message ids this codec decodes (uplink, 0x0xxx) or encodes (downlink, 0x8xxx)."""

    TERMINAL_RESPONSE = 0x0001
    HEARTBEAT = 0x0002
    LOGOUT = 0x0003
    REGISTER = 0x0100
    AUTHENTICATE = 0x0102
    LOCATION = 0x0200
    LOCATION_QUERY_RESPONSE = 0x0201
    LOCATION_BATCH = 0x0704
    MULTIMEDIA_EVENT = 0x0800
    MULTIMEDIA_DATA = 0x0801
    SNAP_RESPONSE = 0x0805
    PLATFORM_RESPONSE = 0x8001
    RESEND_REQUEST = 0x8003
    REGISTER_RESPONSE = 0x8100
    SET_PARAMETERS = 0x8103
    TERMINAL_CONTROL = 0x8105
    TEXT_MESSAGE = 0x8300
    MULTIMEDIA_RESPONSE = 0x8800
    TAKE_PHOTO = 0x8801


class GeneralResult(IntEnum):
    """Result byte of 0x0001 / 0x8001 general responses."""

    SUCCESS = 0
    FAILURE = 1
    BAD_MESSAGE = 2
    UNSUPPORTED = 3
    #: 0x8001 only: alarm handling confirmed
    ALARM_CONFIRMED = 4


class RegisterResult(IntEnum):
    """Result byte of the 0x8100 register response."""

    SUCCESS = 0
    VEHICLE_ALREADY_REGISTERED = 1
    VEHICLE_UNKNOWN = 2
    TERMINAL_ALREADY_REGISTERED = 3
    TERMINAL_UNKNOWN = 4


class TerminalControlCommand(IntEnum):
    """Command word of 0x8105 terminal control."""

    WIRELESS_UPGRADE = 1
    CONNECT_TO_SERVER = 2
    POWER_OFF = 3
    RESET = 4
    FACTORY_RESET = 5
    CLOSE_DATA_COMMUNICATION = 6
    CLOSE_ALL_WIRELESS = 7


class MediaType(IntEnum):
    IMAGE = 0
    AUDIO = 1
    VIDEO = 2


class MediaFormat(IntEnum):
    JPEG = 0
    TIF = 1
    MP3 = 2
    WAV = 3
    WMV = 4


class MediaEvent(IntEnum):
    """Event item code of 0x0800 / 0x0801 (2013 values; 2019 keeps them)."""

    PLATFORM_COMMAND = 0
    TIMED = 1
    ROBBERY_ALARM = 2
    COLLISION_ROLLOVER = 3
    DOOR_OPENED = 4
    DOOR_CLOSED = 5
    DOOR_SPEED_CHANGE = 6
    FIXED_DISTANCE = 7


@dataclass(slots=True)
class AdditionalInfo:
    """One 0x0200 additional-information item (id BYTE, length BYTE, value) as received."""

    id: int
    value: bytes


@dataclass(slots=True)
class TerminalResponse:
    """0x0001 terminal general response to a platform message."""

    reply_serial: int
    reply_msg_id: int
    #: see :class:`GeneralResult` (0 success, 1 failure, 2 bad message, 3 unsupported)
    result: int


@dataclass(slots=True)
class Heartbeat:
    """0x0002 heartbeat; ``extra`` holds vendor bytes some terminals append."""

    extra: bytes = b""


@dataclass(slots=True)
class Logout:
    """0x0003 terminal logout (deregistration)."""


@dataclass(slots=True)
class Register:
    """0x0100 terminal registration."""

    province_id: int
    city_id: int
    manufacturer_id: str
    terminal_model: str
    terminal_id: str
    #: 0 when the vehicle has no plate (the plate field then carries a VIN)
    plate_color: int
    plate: str


@dataclass(slots=True)
class Authenticate:
    """0x0102 authentication; IMEI and software version exist only in the 2019 layout."""

    auth_code: str
    imei: str | None = None
    software_version: str | None = None


@dataclass(slots=True)
class Location:
    """A 0x0200 location block: the fix plus the raw flags and additional items."""

    fix: Fix
    #: the alarm DWORD as sent (decoded names are in ``fix.attributes["alarm"]``)
    alarm_flags: int
    #: the status DWORD as sent
    status_flags: int
    #: every additional-information item, in order, as received
    extras: tuple[AdditionalInfo, ...] = ()
    #: the items the decoder did not turn into attributes
    unknown: tuple[AdditionalInfo, ...] = ()
    #: bytes after the last whole additional item (a vendor tail), kept raw
    trailing: bytes = b""


@dataclass(slots=True)
class LocationQueryResponse:
    """0x0201 answer to a 0x8201 location query."""

    reply_serial: int
    location: Location


@dataclass(slots=True)
class LocationBatch:
    """0x0704 batch: ``batch_type`` 0 normal, 1 blind-area re-upload (``archive``)."""

    batch_type: int
    locations: tuple[Location, ...]

    @property
    def archive(self) -> bool:
        return self.batch_type == 1


@dataclass(slots=True)
class MultimediaEvent:
    """0x0800 multimedia event information."""

    media_id: int
    media_type: int
    media_format: int
    event: int
    channel: int


@dataclass(slots=True)
class MultimediaData:
    """0x0801 multimedia data; ``data`` is the whole file when the upload was sub-packaged
    and went through :class:`~trackstream_protocols.jt808.Jt808Reassembler`."""

    media_id: int
    media_type: int
    media_format: int
    event: int
    channel: int
    #: the 28-byte location block that precedes the data (2013 and later)
    location: Location
    data: bytes


@dataclass(slots=True)
class SnapResponse:
    """0x0805 answer to a 0x8801 take-photo command."""

    reply_serial: int
    #: 0 success, 1 failure, 2 channel not supported
    result: int
    media_ids: tuple[int, ...] = ()


@dataclass(slots=True)
class SubPackage:
    """One package of a sub-packaged message, waiting for the others (see the reassembler)."""

    total: int
    index: int
    data: bytes


@dataclass(slots=True)
class UnknownMessage:
    """A message this codec does not decode (or an encrypted body), kept raw."""

    msg_id: int
    body: bytes


Jt808Message = (
    TerminalResponse
    | Heartbeat
    | Logout
    | Register
    | Authenticate
    | Location
    | LocationQueryResponse
    | LocationBatch
    | MultimediaEvent
    | MultimediaData
    | SnapResponse
    | SubPackage
    | UnknownMessage
)
