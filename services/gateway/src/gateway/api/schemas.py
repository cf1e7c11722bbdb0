"""Request bodies (strict: unknown fields are refused) and identity records as JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.domain.model import AccountNode
from gateway.domain.render import iso, iso_or_none
from trackstream.identity.v1 import device_registry_pb2
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream_events.retention import MAX_DAYS, DataKind, own_days, resolve

KIND_NAMES = {2: "distributor", 3: "enterprise", 4: "end_user", 1: "platform"}
KIND_VALUES = {v: k for k, v in KIND_NAMES.items()}
ROLE_NAMES = {1: "admin", 2: "operator", 3: "viewer"}
ROLE_VALUES = {v: k for k, v in ROLE_NAMES.items()}

KindName = Literal["distributor", "enterprise", "end_user"]
RoleName = Literal["admin", "operator", "viewer"]
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(Strict):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=4096)


class RevokeRequest(Strict):
    #: revoke the session of this refresh token instead of the caller's own session
    refresh_token: str | None = Field(default=None, min_length=1, max_length=4096)


class AccountCreate(Strict):
    parent_account_id: str | None = Field(default=None, min_length=1, max_length=64)
    kind: KindName
    role: RoleName = "admin"
    email: str = Field(min_length=3, max_length=254)
    phone: str = Field(default="", max_length=32)
    display_name: str = Field(default="", max_length=200)
    password: str = Field(min_length=10, max_length=1024)


class AccountUpdate(Strict):
    display_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    disabled: bool | None = None
    role: RoleName | None = None
    password: str | None = Field(default=None, min_length=10, max_length=1024)


def _retention_days(what: str) -> Any:
    return Field(
        default=None,
        ge=0,
        le=MAX_DAYS,
        description=(
            f"days {what} are kept; absent or 0: not set here (inherited from the nearest "
            f"ancestor that sets it, else the platform default); at most {MAX_DAYS} and the "
            "platform maximum"
        ),
    )


class RetentionUpdate(Strict):
    """An account's own retention, replaced as a whole: a kind absent or 0 is not set (the
    account inherits it from the nearest ancestor that sets it, else the platform default)."""

    positions_days: int | None = _retention_days("positions")
    alarms_days: int | None = _retention_days("alarms")
    media_days: int | None = _retention_days("media (pictures and videos)")


def retention_json(
    node: AccountNode, lookup: Callable[[str], AccountNode | None]
) -> dict[str, Any]:
    """The account's own setting per kind (null: not set) and what applies: ``days`` null
    means the platform's default, ``set_by`` the account whose setting it is."""
    own: dict[str, Any] = {}
    effective: dict[str, Any] = {}
    for kind in DataKind:
        name = f"{kind.value}_days"
        own[name] = own_days(node.retention, kind) or None
        resolved = resolve(node.account_id, kind, lookup)
        effective[name] = {"days": resolved.days or None, "set_by": resolved.set_by or None}
    return {"account_id": node.account_id, **own, "effective": effective}


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    read_only: bool = False
    expires_at: datetime | None = None
    account_id: str | None = Field(default=None, min_length=1, max_length=64)


class DeviceCreate(Strict):
    identifier: str = Field(min_length=5, max_length=20, pattern=r"^[0-9]+$")
    protocol: Literal["gt06", "jt808", "osmand"]
    model: str = Field(default="", max_length=64)
    name: str = Field(default="", max_length=200)
    device_timezone: str = Field(default="", max_length=64)
    expiry_time: datetime | None = None
    owner_account_id: str | None = Field(default=None, min_length=1, max_length=64)
    #: consent of the person carrying it to precise location; unset: not recorded (the
    #: platform's policy decides); without it ingest coarsens or drops the fixes
    location_consent: Literal["granted", "withdrawn"] | None = None
    #: worn by a minor: precise location needs ``guardian_consent`` as well
    worn_by_minor: bool = False
    guardian_consent: bool = False


class DeviceUpdate(Strict):
    name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=64)
    device_timezone: str | None = Field(default=None, max_length=64)
    disabled: bool | None = None
    expiry_time: datetime | None = None
    clear_expiry: bool = False
    #: "withdrawn" takes effect on the device's next fix
    location_consent: Literal["granted", "withdrawn"] | None = None
    worn_by_minor: bool | None = None
    guardian_consent: bool | None = None


class Transfer(Strict):
    new_owner_account_id: str = Field(min_length=1, max_length=64)


class ShareCreate(Strict):
    account_id: str = Field(min_length=1, max_length=64)
    until: datetime | None = None


class ShareLinkCreate(Strict):
    #: at most 7 days ahead
    expires_at: datetime


class CommandCreate(Strict):
    kind: Literal[
        "engine_stop",
        "engine_resume",
        "custom_text",
        "terminal_control",
        "set_parameters",
        "take_photo",
    ]
    text: str = Field(default="", max_length=512)
    parameters: dict[str, str] = Field(default_factory=dict, max_length=64)
    #: undelivered after this many seconds: expired (default: the gateway's command TTL)
    expires_in_s: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)


def account_json(account: pb.Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "parent_account_id": account.parent_account_id or None,
        "kind": KIND_NAMES.get(account.kind, "unspecified"),
        "role": ROLE_NAMES.get(account.role, "unspecified"),
        "email": account.email,
        "phone": account.phone,
        "display_name": account.display_name,
        "disabled": account.disabled,
        "created_time": iso_or_none(account.created_time, account.HasField("created_time")),
    }


CONSENT_NAMES = {
    device_registry_pb2.LOCATION_CONSENT_GRANTED: "granted",
    device_registry_pb2.LOCATION_CONSENT_WITHDRAWN: "withdrawn",
}
CONSENT_VALUES = {name: value for value, name in CONSENT_NAMES.items()}


def device_json(device: pb.Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "identifier": device.identifier,
        "protocol": device.protocol,
        "model": device.model,
        "name": device.name,
        "owner_account_id": device.owner_account_id,
        "device_timezone": device.device_timezone,
        "disabled": device.disabled,
        "expiry_time": iso_or_none(device.expiry_time, device.HasField("expiry_time")),
        "registered_time": iso_or_none(device.registered_time, device.HasField("registered_time")),
        "location_consent": CONSENT_NAMES.get(device.location_consent, "not_recorded"),
        "worn_by_minor": device.worn_by_minor,
        "guardian_consent": device.guardian_consent,
        "shares": [
            {
                "account_id": s.account_id,
                "until": iso_or_none(s.until_time, s.HasField("until_time")),
            }
            for s in device.shares
        ],
    }


def api_key_json(key: pb.ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "account_id": key.account_id,
        "name": key.name,
        "read_only": key.read_only,
        "created_time": iso_or_none(key.created_time, key.HasField("created_time")),
        "expires_time": iso_or_none(key.expires_time, key.HasField("expires_time")),
    }


def token_pair_json(pair: pb.TokenPair) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "access_token": pair.access_token,
        "access_expires_time": iso(pair.access_expires_time),
        "refresh_token": pair.refresh_token,
        "refresh_expires_time": iso(pair.refresh_expires_time),
        "account_id": pair.account_id,
    }
