"""A device's session on one connection: who it is and what it is allowed to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from enum import Enum


class SessionState(Enum):
    #: connected, not yet said who it is: only identification is accepted
    UNIDENTIFIED = "unidentified"
    #: a registered device: its reports become events
    ACTIVE = "active"
    #: not in the registry, accepted for an operator to claim: only announced, never acknowledged
    QUARANTINED = "quarantined"


class DeviceRejected(Exception):
    """The device may not connect (unknown under the reject policy); the connection closes."""


class NotIdentified(Exception):
    """A device sent data before saying who it is."""


@dataclass
class DeviceSession:
    session_id: str
    protocol: int
    state: SessionState = SessionState.UNIDENTIFIED
    device_id: str | None = None
    identifier_hmac: bytes | None = None
    identifier_tail: str = ""
    model: str = ""
    edition: str = ""
    timezone: tzinfo | None = None
    frames: int = 0
    bad_checksums: int = 0
    quarantine_announced: bool = False
    #: GT06 command server flags / JT/T 808 downlink serials handed out on this connection
    next_downlink_serial: int = 1
    extra: dict[str, object] = field(default_factory=dict)

    def take_downlink_serial(self) -> int:
        serial = self.next_downlink_serial
        self.next_downlink_serial = serial % 0xFFFF + 1
        return serial
