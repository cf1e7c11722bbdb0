"""The one declared catalog of Kafka topics and S3 buckets.

Provisioning creates exactly these (``deploy/local/provision.py``, the Helm provisioning job),
services import their names from here, and ``docs/architecture.md`` shows them as a table that a
test keeps equal to this file. Each entry says how its personal data is erased (docs/privacy).

Erasure classes (docs/architecture.md, "Erasure plan"):

* ``A``: compacted and keyed by the subject; erased by a tombstone for the key.
* ``B``: delete policy with short retention; erased by expiry (bound: retention + segment roll),
  while the long-term copy lives in a store the privacy service erases directly.
* ``C``: internal (dead letters); follows the class of the topic it serves.

A ``sealed`` topic carries its personal fields (LOCATION, BEHAVIOURAL, IDENTIFYING) encrypted
under the subject's data key (``trackstream_kafka.sealing``): destroying the key at erasure makes
every copy unreadable at once, long before retention removes the records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
TOPIC_NAME = re.compile(r"^[a-z][a-z0-9]*\.[a-z][a-z0-9-]*\.v[0-9]+(\.dlq)?$")


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


class PersonalData(StrEnum):
    """The most sensitive kind of personal data a record may hold (proto option, per field)."""

    NONE = "none"
    PSEUDONYMOUS = "pseudonymous"
    BEHAVIOURAL = "behavioural"
    LOCATION = "location"
    IDENTIFYING = "identifying"


class ErasureClass(StrEnum):
    TOMBSTONE = "A"
    RETENTION = "B"
    INTERNAL = "C"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    owner: str
    key: str
    value_types: tuple[str, ...]
    partitions: int
    cleanup_policy: CleanupPolicy
    retention_ms: int
    personal_data: PersonalData
    erasure: ErasureClass
    description: str
    #: segment roll; with retention it bounds how long an expired record can still be read
    segment_ms: int = HOUR_MS
    #: personal fields sealed under the subject's data key (crypto-shredding; the key is the
    #: subject: a pseudonymous device or account id)
    sealed: bool = False

    @property
    def dlq(self) -> Topic:
        """The dead-letter sibling: same key and data class, any value type; the retention of a
        delete-policy topic, and 72 h for a compacted one (a delete-policy sibling kept forever
        would outlive every tombstone of its subjects)."""
        return Topic(
            name=f"{self.name}.dlq",
            owner=self.owner,
            key=self.key,
            value_types=self.value_types,
            partitions=1,
            cleanup_policy=CleanupPolicy.DELETE,
            retention_ms=(
                self.retention_ms if self.cleanup_policy is CleanupPolicy.DELETE else 3 * DAY_MS
            ),
            personal_data=self.personal_data,
            erasure=ErasureClass.INTERNAL,
            description=f"poison messages of {self.name}, with the reason in headers",
            segment_ms=self.segment_ms,
            # dead letters keep the original headers: a sealed record stays sealed
            sealed=self.sealed,
        )

    @property
    def erasure_bound_ms(self) -> int:
        """Worst case until a record is physically gone once it is due.

        Delete policy: retention + one segment (a segment goes whole, when its newest record
        has expired) + the broker's retention check (5 minutes by default).
        Compacted: the roll markers (``trackstream_kafka.compaction``, every ``segment_ms``)
        roll the tombstone's segment within two ``segment_ms`` (it must have outlived
        ``max.compaction.lag.ms`` = ``segment_ms`` when a marker arrives), the cleaner then
        removes the earlier values; the tombstone itself goes at a cleaning after
        ``delete.retention.ms``, which the next marker's roll brings within one more
        ``segment_ms``; plus 5 minutes for the cleaner's turn."""
        if self.cleanup_policy is CleanupPolicy.COMPACT:
            return 3 * self.segment_ms + DAY_MS + 5 * 60_000
        return self.retention_ms + self.segment_ms + 5 * 60_000

    def configs(self) -> dict[str, str]:
        """Kafka topic-level configs."""
        configs = {
            "cleanup.policy": self.cleanup_policy.value,
            "segment.ms": str(self.segment_ms),
        }
        if self.cleanup_policy is CleanupPolicy.DELETE:
            configs["retention.ms"] = str(self.retention_ms)
        else:  # compacted: bound the time a tombstone needs to take effect
            configs["max.compaction.lag.ms"] = str(self.segment_ms)
            configs["delete.retention.ms"] = str(DAY_MS)
            configs["min.compaction.lag.ms"] = "0"
        return configs


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    owner: str
    personal_data: PersonalData
    #: unversioned buckets make a DELETE final; versioned ones need every version deleted
    versioned: bool
    description: str


_THREE_DAYS = 3 * DAY_MS


def _device_stream(
    name: str,
    value_types: tuple[str, ...],
    personal_data: PersonalData,
    description: str,
    *,
    owner: str = "ingest",
    partitions: int = 3,
    sealed: bool = False,
) -> Topic:
    """A tracking stream keyed by device: delete policy, 72 h, erased by expiry (class B)."""
    return Topic(
        name=name,
        owner=owner,
        key="device_id",
        value_types=tuple(f"trackstream.tracking.v1.{v}" for v in value_types),
        partitions=partitions,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=_THREE_DAYS,
        personal_data=personal_data,
        erasure=ErasureClass.RETENTION,
        description=description,
        sealed=sealed,
    )


#: Topics the platform declares today. New services add theirs here, in the same change.
TOPICS: tuple[Topic, ...] = (
    _device_stream(
        "tracking.positions.v1",
        ("PositionReported",),
        PersonalData.LOCATION,
        "every position a device reported, in device order",
        partitions=6,
        sealed=True,
    ),
    _device_stream(
        "tracking.device-sessions.v1",
        ("DeviceConnected", "DeviceDisconnected"),
        PersonalData.PSEUDONYMOUS,
        "devices connecting and disconnecting",
    ),
    _device_stream(
        "tracking.device-status.v1",
        ("DeviceStatusReported",),
        PersonalData.BEHAVIOURAL,
        "heartbeats and status: power, signal, ignition",
        sealed=True,
    ),
    _device_stream(
        "tracking.device-alarms.v1",
        ("DeviceAlarmReported",),
        PersonalData.LOCATION,
        "alarms raised by devices themselves (SOS, power cut, ...)",
        sealed=True,
    ),
    _device_stream(
        "tracking.media.v1",
        ("MediaUploaded",),
        PersonalData.LOCATION,
        "pictures and videos devices uploaded (bytes in trackstream-media)",
        sealed=True,
    ),
    Topic(
        name="tracking.quarantine.v1",
        owner="ingest",
        key="identifier_hmac",
        value_types=("trackstream.tracking.v1.UnknownDeviceSeen",),
        partitions=1,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=7 * DAY_MS,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.RETENTION,
        description="devices not in the registry that tried to connect, for operators to claim",
    ),
    Topic(
        name="identity.device-registry.v1",
        owner="identity",
        key="device_id",
        value_types=("trackstream.identity.v1.DeviceRegistered",),
        partitions=3,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="registered devices (identifier HMAC to device id); tombstone unregisters",
    ),
    Topic(
        name="identity.accounts.v1",
        owner="identity",
        key="account_id",
        value_types=("trackstream.identity.v1.AccountChanged",),
        partitions=3,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description=(
            "the account tree (ids, kind, role, retention; no personal fields); tombstone removes"
        ),
    ),
    Topic(
        name="identity.revocations.v1",
        owner="identity",
        key="credential_id",
        value_types=("trackstream.identity.v1.CredentialRevoked",),
        partitions=1,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="sessions and share links that must stop working now",
    ),
    Topic(
        name="identity.api-keys.v1",
        owner="identity",
        key="key_id",
        value_types=("trackstream.identity.v1.ApiKeyIssued",),
        partitions=1,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="integrators' API keys as secret hashes; tombstone revokes",
    ),
    _device_stream(
        "tracking.commands.v1",
        ("CommandRequested",),
        PersonalData.BEHAVIOURAL,
        "commands to deliver to devices",
        owner="gateway",
        sealed=True,
    ),
    _device_stream(
        "tracking.command-results.v1",
        ("CommandResult",),
        PersonalData.BEHAVIOURAL,
        "what became of each command",
        sealed=True,
    ),
    Topic(
        name="geocoding.addresses.v1",
        owner="geocoding",
        key="device_id",
        value_types=("trackstream.geocoding.v1.AddressResolved",),
        partitions=6,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=_THREE_DAYS,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.RETENTION,
        description="the address of each position, in device order (history stores it)",
        sealed=True,
    ),
    Topic(
        name="alarm.alarms.v1",
        owner="alarm",
        key="device_id",
        value_types=("trackstream.alarm.v1.AlarmRaised",),
        partitions=3,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=_THREE_DAYS,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.RETENTION,
        description="every alarm once, with a stable id (device and platform alarms)",
        sealed=True,
    ),
    Topic(
        name="alarm.geofences.v1",
        owner="alarm",
        key="geofence_id",
        value_types=("trackstream.alarm.v1.Geofence",),
        partitions=3,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.TOMBSTONE,
        description="accounts' geofences (circles, polygons, bindings); tombstone deletes",
    ),
    Topic(
        name="alarm.rules.v1",
        owner="alarm",
        key="rule_id",
        value_types=("trackstream.alarm.v1.Rule",),
        partitions=3,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="accounts' alarm rules (overspeed, offline, idle, ...); tombstone deletes",
    ),
    Topic(
        name="media.objects.v1",
        owner="media",
        key="device_id",
        value_types=("trackstream.media.v1.MediaStored",),
        partitions=3,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=_THREE_DAYS,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.RETENTION,
        description="media verified, stored and catalogued (for notifications)",
    ),
    Topic(
        name="alarm.device-state.v1",
        owner="alarm",
        key="device_id",
        value_types=("trackstream.alarm.v1.DeviceAlarmState",),
        # partitioned like tracking.positions.v1: a device's state sits on the same partition
        partitions=6,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.TOMBSTONE,
        description="the alarm engine's per-device state (changelog, restored on assignment)",
    ),
    Topic(
        name="notification.inbox.v1",
        owner="notification",
        key="account_id",
        value_types=("trackstream.notification.v1.InboxNotificationAdded",),
        partitions=3,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=DAY_MS,
        personal_data=PersonalData.LOCATION,
        erasure=ErasureClass.RETENTION,
        description="new in-app notifications per account, for the gateway's WebSocket",
        sealed=True,
    ),
    Topic(
        name="privacy.erasure-requests.v1",
        owner="privacy",
        key="request_id",
        value_types=("trackstream.privacy.v1.ErasureRequested",),
        partitions=1,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="erasures operators ask for; tombstoned once the certificate is issued",
    ),
    Topic(
        name="privacy.erasure-orders.v1",
        owner="privacy",
        key="request_id",
        value_types=("trackstream.privacy.v1.ErasureOrdered",),
        partitions=1,
        cleanup_policy=CleanupPolicy.COMPACT,
        retention_ms=-1,
        personal_data=PersonalData.PSEUDONYMOUS,
        erasure=ErasureClass.TOMBSTONE,
        description="what each participant must erase, once ledgered; tombstoned when done",
    ),
    Topic(
        name="privacy.erasure-acks.v1",
        owner="privacy",
        key="request_id",
        value_types=("trackstream.privacy.v1.ErasureAcknowledged",),
        partitions=1,
        cleanup_policy=CleanupPolicy.DELETE,
        retention_ms=_THREE_DAYS,
        personal_data=PersonalData.NONE,
        erasure=ErasureClass.RETENTION,
        description="each participant's per-store account of an erasure (no subject ids)",
    ),
)

BUCKETS: tuple[Bucket, ...] = (
    Bucket(
        name="trackstream-media",
        owner="media",
        personal_data=PersonalData.LOCATION,
        versioned=False,
        description="dashcam pictures and videos, keyed by pseudonymous device id",
    ),
    Bucket(
        name="trackstream-exports",
        owner="privacy",
        personal_data=PersonalData.IDENTIFYING,
        versioned=False,
        description="data-subject exports (Art. 15/20), short-lived",
    ),
)


def all_topics() -> tuple[Topic, ...]:
    """Every topic to provision: the catalog and each one's dead-letter sibling."""
    return tuple(t for main in TOPICS for t in (main, main.dlq))


def topic(name: str) -> Topic:
    for t in all_topics():
        if t.name == name:
            return t
    raise KeyError(f"no topic {name!r} in the catalog")


def bucket(name: str) -> Bucket:
    for b in BUCKETS:
        if b.name == name:
            return b
    raise KeyError(f"no bucket {name!r} in the catalog")
