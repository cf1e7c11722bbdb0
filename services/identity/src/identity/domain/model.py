"""What identity keeps: accounts, devices, sessions, share links, API keys. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum


class AccountKind(IntEnum):
    """Same numbers as ``trackstream.identity.v1.AccountKind``."""

    UNSPECIFIED = 0
    PLATFORM = 1
    DISTRIBUTOR = 2
    ENTERPRISE = 3
    END_USER = 4


class AccountRole(IntEnum):
    """Same numbers as ``trackstream.identity.v1.AccountRole``."""

    UNSPECIFIED = 0
    ADMIN = 1
    OPERATOR = 2
    VIEWER = 3


@dataclass(frozen=True, slots=True)
class Retention:
    """Days an account keeps its positions, alarms and media (0: not set here)."""

    positions_days: int = 0
    alarms_days: int = 0
    media_days: int = 0


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    #: "" for the platform root
    parent_account_id: str
    #: root first, parent last
    ancestor_account_ids: tuple[str, ...]
    kind: AccountKind
    role: AccountRole
    email: str
    phone: str
    display_name: str
    password_hash: str
    disabled: bool
    created_time: datetime
    #: the account's own retention in days (0: not set, inherited; trackstream_events.retention)
    retention: Retention = field(default_factory=Retention)


class LocationConsent(IntEnum):
    """Consent to precise location processing (the proto enum's numbers)."""

    UNRECORDED = 0
    GRANTED = 1
    WITHDRAWN = 2


@dataclass(frozen=True, slots=True)
class DeviceShare:
    account_id: str
    #: None: until revoked
    until_time: datetime | None


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    identifier: str
    identifier_hmac: bytes
    protocol: str
    model: str
    name: str
    owner_account_id: str
    device_timezone: str
    disabled: bool
    expiry_time: datetime | None
    registered_time: datetime
    shares: tuple[DeviceShare, ...] = field(default=())
    location_consent: LocationConsent = LocationConsent.UNRECORDED
    #: worn by a minor: precise location needs the guardian's consent as well
    worn_by_minor: bool = False
    guardian_consent: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    account_id: str
    #: SHA-256 of the current refresh token
    refresh_sha256: bytes
    #: how many times the refresh token was rotated
    generation: int
    created_time: datetime
    #: when the current refresh token expires
    expires_time: datetime
    #: the latest expiry of an access token issued in this session
    access_expires_time: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class ShareLink:
    link_id: str
    device_id: str
    account_id: str
    created_time: datetime
    expires_time: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    account_id: str
    name: str
    secret_sha256: bytes
    created_time: datetime
    expires_time: datetime | None
    read_only: bool
    revoked: bool
