"""Domain records to protobuf messages: the events identity publishes and its API's answers."""

from __future__ import annotations

from datetime import datetime

from identity.domain.model import (
    Account,
    ApiKey,
    Device,
    DeviceShare,
    Retention,
    Session,
    ShareLink,
)
from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream_events.timestamps import to_timestamp


def retention_message(retention: Retention) -> accounts_pb2.AccountRetention:
    return accounts_pb2.AccountRetention(
        positions_days=retention.positions_days,
        alarms_days=retention.alarms_days,
        media_days=retention.media_days,
    )


def account_changed(account: Account, *, now: datetime) -> accounts_pb2.AccountChanged:
    return accounts_pb2.AccountChanged(
        account_id=account.account_id,
        parent_account_id=account.parent_account_id,
        ancestor_account_ids=list(account.ancestor_account_ids),
        kind=int(account.kind),  # type: ignore[arg-type]
        role=int(account.role),  # type: ignore[arg-type]
        disabled=account.disabled,
        changed_time=to_timestamp(now),
        retention=retention_message(account.retention),
    )


def account_message(account: Account) -> pb.Account:
    return pb.Account(
        account_id=account.account_id,
        parent_account_id=account.parent_account_id,
        ancestor_account_ids=list(account.ancestor_account_ids),
        kind=int(account.kind),  # type: ignore[arg-type]
        role=int(account.role),  # type: ignore[arg-type]
        email=account.email,
        phone=account.phone,
        display_name=account.display_name,
        disabled=account.disabled,
        created_time=to_timestamp(account.created_time),
        retention=retention_message(account.retention),
    )


def _share(share: DeviceShare) -> device_registry_pb2.DeviceShare:
    message = device_registry_pb2.DeviceShare(account_id=share.account_id)
    if share.until_time is not None:
        message.until_time.CopyFrom(to_timestamp(share.until_time))
    return message


def device_registered(device: Device) -> device_registry_pb2.DeviceRegistered:
    message = device_registry_pb2.DeviceRegistered(
        device_id=device.device_id,
        identifier_hmac=device.identifier_hmac,
        registered_time=to_timestamp(device.registered_time),
        owner_account_id=device.owner_account_id,
        device_timezone=device.device_timezone,
        disabled=device.disabled,
        shares=[_share(s) for s in device.shares],
        model=device.model,
        protocol=device.protocol,
        location_consent=int(device.location_consent),  # type: ignore[arg-type]
        worn_by_minor=device.worn_by_minor,
        guardian_consent=device.guardian_consent,
    )
    if device.expiry_time is not None:
        message.expiry_time.CopyFrom(to_timestamp(device.expiry_time))
    return message


def device_message(device: Device) -> pb.Device:
    message = pb.Device(
        device_id=device.device_id,
        identifier=device.identifier,
        protocol=device.protocol,
        model=device.model,
        name=device.name,
        owner_account_id=device.owner_account_id,
        device_timezone=device.device_timezone,
        disabled=device.disabled,
        registered_time=to_timestamp(device.registered_time),
        shares=[_share(s) for s in device.shares],
        location_consent=int(device.location_consent),  # type: ignore[arg-type]
        worn_by_minor=device.worn_by_minor,
        guardian_consent=device.guardian_consent,
    )
    if device.expiry_time is not None:
        message.expiry_time.CopyFrom(to_timestamp(device.expiry_time))
    return message


def session_revoked(session: Session, *, now: datetime) -> credentials_pb2.CredentialRevoked:
    return credentials_pb2.CredentialRevoked(
        credential_id=session.session_id,
        kind=credentials_pb2.CREDENTIAL_KIND_SESSION,
        account_id=session.account_id,
        revoked_time=to_timestamp(now),
        expires_time=to_timestamp(session.access_expires_time),
    )


def share_link_revoked(link: ShareLink, *, now: datetime) -> credentials_pb2.CredentialRevoked:
    return credentials_pb2.CredentialRevoked(
        credential_id=link.link_id,
        kind=credentials_pb2.CREDENTIAL_KIND_SHARE_LINK,
        account_id=link.account_id,
        revoked_time=to_timestamp(now),
        expires_time=to_timestamp(link.expires_time),
    )


def api_key_issued(key: ApiKey) -> credentials_pb2.ApiKeyIssued:
    message = credentials_pb2.ApiKeyIssued(
        key_id=key.key_id,
        account_id=key.account_id,
        secret_sha256=key.secret_sha256,
        created_time=to_timestamp(key.created_time),
        read_only=key.read_only,
    )
    if key.expires_time is not None:
        message.expires_time.CopyFrom(to_timestamp(key.expires_time))
    return message


def api_key_message(key: ApiKey) -> pb.ApiKey:
    message = pb.ApiKey(
        key_id=key.key_id,
        account_id=key.account_id,
        name=key.name,
        created_time=to_timestamp(key.created_time),
        read_only=key.read_only,
    )
    if key.expires_time is not None:
        message.expires_time.CopyFrom(to_timestamp(key.expires_time))
    return message
