"""The erasure plan: which participant erases which store, and how.

Every Kafka topic of the catalog and every Cassandra table of the migrations has exactly one
entry: a participant that erases it (and must acknowledge it by name in every erasure), the
privacy service itself for topics that age out by retention, or a reason why it holds nothing
about a subject. ``unplanned`` finds what is missing, so a new table or topic without an entry
fails the check (tests/unit/test_plan.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trackstream_events.catalog import BUCKETS, CleanupPolicy, Topic, all_topics

#: what each participant acknowledges, store by store, in every erasure
PARTICIPANT_STORES: dict[str, tuple[str, ...]] = {
    "identity": (
        "cassandra:identity_accounts",
        "cassandra:identity_accounts_by_email",
        "cassandra:identity_sub_accounts",
        "cassandra:identity_devices",
        "cassandra:identity_devices_by_identifier",
        "cassandra:identity_sessions",
        "cassandra:identity_sessions_by_refresh",
        "cassandra:identity_sessions_by_account",
        "cassandra:identity_share_links",
        "cassandra:identity_api_keys",
        "cassandra:identity_api_keys_by_account",
        "cassandra:identity_unpublished",
        "kafka:identity.accounts.v1",
        "kafka:identity.device-registry.v1",
        "kafka:identity.revocations.v1",
        "kafka:identity.api-keys.v1",
    ),
    "history": (
        "cassandra:positions_by_device_day",
        "cassandra:position_days_by_device",
        "cassandra:last_position_by_device",
        "cassandra:position_addresses_by_device_day",
    ),
    "alarm": (
        "cassandra:alarms_by_device_day",
        "cassandra:alarm_days_by_device",
        "cassandra:alarm_by_id",
        "kafka:alarm.device-state.v1",
        "kafka:alarm.geofences.v1",
        "kafka:alarm.rules.v1",
        "memory:engine",
    ),
    "media": (
        "cassandra:media_by_device",
        "cassandra:media_by_id",
        "cassandra:media_by_alarm",
        "cassandra:media_expiry_by_day",
        "cassandra:media_capture_requests",
        "cassandra:media_alarm_candidates",
        "s3:trackstream-media",
    ),
    "geocoding": ("memory:movement",),
    "notification": (
        "cassandra:notification_subscriptions",
        "cassandra:notification_deliveries",
        "cassandra:notification_deliveries_by_account",
        "cassandra:notification_open_deliveries",
        "cassandra:notification_inbox",
        "cassandra:notification_inbox_by_id",
    ),
    # the privacy service's own exports (README, "Export"): an ErasureParticipant inside the
    # privacy service deletes every export naming an erased account or device, found through
    # privacy_exports_by_subject (archive first, then the rows)
    "privacy-exports": (
        "cassandra:privacy_exports",
        "cassandra:privacy_running_exports",
        "cassandra:privacy_exports_by_subject",
        "s3:trackstream-exports",
    ),
    # crypto-shredding (privacy/data_keys.py): the privacy service destroys the erased
    # subjects' data keys, which makes every sealed copy of their personal fields unreadable
    "privacy-keys": ("cassandra:subject_data_keys",),
}

#: the privacy service itself: its ledger holds only hashes once an erasure is done, and its
#: request and order topics are tombstoned by it when the certificate is issued
PRIVACY_STORES: dict[str, str] = {
    "cassandra:privacy_erasures": "the ledger: subject ids replaced by their HMAC when done",
    "cassandra:privacy_erasure_acks": "acknowledgements: request ids and counts, no subject id",
    "cassandra:privacy_pending_erasures": "request ids of erasures in progress",
    "kafka:privacy.erasure-requests.v1": "tombstoned by request id when the certificate is issued",
    "kafka:privacy.erasure-orders.v1": "tombstoned by request id when the certificate is issued",
}

#: stores that hold nothing about a subject, and why
NOT_PERSONAL: dict[str, str] = {
    "cassandra:identity_platform": "the platform singleton (ids of the root account only)",
    "cassandra:schema_migrations": "which migrations ran",
    "cassandra:destroyed_data_keys": "the deny-list of destroyed keys: key ids, subject hashes",
    "cassandra:destroyed_data_keys_by_subject": "the same deny-list by subject hash",
}


@dataclass(frozen=True, slots=True)
class RetentionTopic:
    """A delete-policy topic: erased by expiry within ``bound_ms`` (retention + segment roll)."""

    name: str
    bound_ms: int


def retention_topics(topics: Iterable[Topic] | None = None) -> tuple[RetentionTopic, ...]:
    """Every delete-policy topic (class B and dead letters), which the privacy service
    acknowledges itself with the bound the catalog's settings give."""
    return tuple(
        RetentionTopic(t.name, t.erasure_bound_ms)
        for t in (all_topics() if topics is None else topics)
        if t.cleanup_policy is CleanupPolicy.DELETE
        and f"kafka:{t.name}" not in PRIVACY_STORES
        and t.name != "privacy.erasure-acks.v1"
    )


def planned_stores() -> set[str]:
    """Every store some entry covers."""
    covered = {store for stores in PARTICIPANT_STORES.values() for store in stores}
    covered |= set(PRIVACY_STORES) | set(NOT_PERSONAL)
    covered |= {f"kafka:{t.name}" for t in retention_topics()}
    covered.add("kafka:privacy.erasure-acks.v1")
    return covered


def unplanned(tables: Iterable[str], topics: Iterable[str], buckets: Iterable[str]) -> list[str]:
    """The stores that exist but have no entry in the plan (each must get one)."""
    existing = (
        {f"cassandra:{t}" for t in tables}
        | {f"kafka:{t}" for t in topics}
        | {f"s3:{b}" for b in buckets}
    )
    return sorted(existing - planned_stores())


def catalog_buckets() -> list[str]:
    return [b.name for b in BUCKETS]
