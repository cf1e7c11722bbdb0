"""What the gateway knows about accounts, devices and credentials, without personal data: the
shapes of the identity topics it keeps in memory, and the caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from trackstream.identity.v1.accounts_pb2 import AccountRetention


class Role(IntEnum):
    """Same numbers as ``trackstream.identity.v1.AccountRole``."""

    UNSPECIFIED = 0
    ADMIN = 1
    OPERATOR = 2
    VIEWER = 3


class Kind(IntEnum):
    """Same numbers as ``trackstream.identity.v1.AccountKind``."""

    UNSPECIFIED = 0
    PLATFORM = 1
    DISTRIBUTOR = 2
    ENTERPRISE = 3
    END_USER = 4


@dataclass(frozen=True, slots=True)
class AccountNode:
    account_id: str
    parent_id: str
    #: root first, parent last
    ancestors: tuple[str, ...]
    kind: Kind
    role: Role
    disabled: bool
    #: the account's own retention (0 per kind: inherited; trackstream_events.retention)
    retention: AccountRetention = field(default_factory=AccountRetention)

    @property
    def ancestor_account_ids(self) -> tuple[str, ...]:
        """The name the shared retention rule reads."""
        return self.ancestors


@dataclass(frozen=True, slots=True)
class Share:
    account_id: str
    #: None: until revoked
    until: datetime | None


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    device_id: str
    owner_account_id: str
    shares: tuple[Share, ...] = ()
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    key_id: str
    account_id: str
    secret_sha256: bytes
    expires_at: datetime | None
    read_only: bool


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends a request: an account, through a session (access token) or an API key."""

    account_id: str
    #: the credential that revocation names: a session id or an API key id
    credential_id: str
    via_api_key: bool = False
    read_only: bool = False
    #: when the credential stops working on its own (None: never)
    expires_at: datetime | None = None
