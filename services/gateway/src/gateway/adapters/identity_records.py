"""Identity's records (topics and gRPC answers) as the gateway's read model entries."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from gateway.domain.directory import Directory
from gateway.domain.model import AccountNode, ApiKeyEntry, DeviceEntry, Kind, Role, Share
from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
from trackstream.identity.v1 import identity_service_pb2 as pb


def time_of(stamp: Timestamp, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


def node_of(change: accounts_pb2.AccountChanged | pb.Account) -> AccountNode:
    return AccountNode(
        account_id=change.account_id,
        parent_id=change.parent_account_id,
        ancestors=tuple(change.ancestor_account_ids),
        kind=Kind(change.kind) if change.kind in Kind._value2member_map_ else Kind.UNSPECIFIED,
        role=Role(change.role) if change.role in Role._value2member_map_ else Role.UNSPECIFIED,
        disabled=change.disabled,
        retention=accounts_pb2.AccountRetention(
            positions_days=change.retention.positions_days,
            alarms_days=change.retention.alarms_days,
            media_days=change.retention.media_days,
        ),
    )


def device_of(record: device_registry_pb2.DeviceRegistered | pb.Device) -> DeviceEntry:
    return DeviceEntry(
        device_id=record.device_id,
        owner_account_id=record.owner_account_id,
        shares=tuple(
            Share(s.account_id, time_of(s.until_time, s.HasField("until_time")))
            for s in record.shares
        ),
        disabled=record.disabled,
    )


def api_key_of(record: credentials_pb2.ApiKeyIssued) -> ApiKeyEntry:
    return ApiKeyEntry(
        key_id=record.key_id,
        account_id=record.account_id,
        secret_sha256=record.secret_sha256,
        expires_at=time_of(record.expires_time, record.HasField("expires_time")),
        read_only=record.read_only,
    )


class DirectoryFeed:
    """``on_change`` callbacks of the compacted tables: each record lands in the directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def account(self, key: str, value: accounts_pb2.AccountChanged | None) -> None:
        if value is None:
            self.directory.remove_account(key)
        else:
            self.directory.put_account(node_of(value))

    def device(self, key: str, value: device_registry_pb2.DeviceRegistered | None) -> None:
        if value is None:
            self.directory.remove_device(key)
        else:
            self.directory.put_device(device_of(value))

    def revocation(self, key: str, value: credentials_pb2.CredentialRevoked | None) -> None:
        if value is None:
            self.directory.unrevoke(key)
        else:
            expires = time_of(value.expires_time, value.HasField("expires_time"))
            self.directory.revoke(value.credential_id or key, expires)

    def api_key(self, key: str, value: credentials_pb2.ApiKeyIssued | None) -> None:
        if value is None:
            self.directory.remove_api_key(key)
        else:
            self.directory.put_api_key(api_key_of(value))
