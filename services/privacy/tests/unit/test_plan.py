"""The erasure plan covers every topic, table and bucket; a new one without an entry fails."""

from __future__ import annotations

import re
from pathlib import Path

from privacy.domain.plan import (
    PARTICIPANT_STORES,
    catalog_buckets,
    planned_stores,
    retention_topics,
    unplanned,
)
from trackstream_events.catalog import CleanupPolicy, ErasureClass, all_topics

ROOT = Path(__file__).resolve().parents[4]
CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS\s+(\w+)", re.IGNORECASE)


def migration_tables() -> set[str]:
    tables = {"schema_migrations"}  # created by the migration runner itself
    for path in sorted((ROOT / "deploy" / "cassandra" / "migrations").glob("*.cql")):
        tables |= set(CREATE_TABLE.findall(path.read_text()))
    return tables


def test_every_table_topic_and_bucket_has_an_entry() -> None:
    tables = migration_tables()
    assert "positions_by_device_day" in tables and len(tables) > 30  # the parse found them
    assert unplanned(tables, [t.name for t in all_topics()], catalog_buckets()) == []


def test_a_new_table_topic_or_bucket_without_an_entry_fails_the_check() -> None:
    assert unplanned(
        migration_tables() | {"driver_scores_by_device"},
        [t.name for t in all_topics()] + ["scoring.scores.v1"],
        [*catalog_buckets(), "trackstream-exports-eu"],
    ) == [
        "cassandra:driver_scores_by_device",
        "kafka:scoring.scores.v1",
        "s3:trackstream-exports-eu",
    ]


def test_every_compacted_topic_is_tombstoned_by_a_participant_or_the_privacy_service() -> None:
    tombstoned = {s for stores in PARTICIPANT_STORES.values() for s in stores}
    tombstoned |= {"kafka:privacy.erasure-requests.v1", "kafka:privacy.erasure-orders.v1"}
    for t in all_topics():
        if t.cleanup_policy is CleanupPolicy.COMPACT:
            assert t.erasure is ErasureClass.TOMBSTONE
            assert f"kafka:{t.name}" in tombstoned, t.name


def test_retention_topics_are_exactly_the_delete_policy_topics_with_their_bound() -> None:
    retention = {t.name: t.bound_ms for t in retention_topics()}
    assert "tracking.positions.v1" in retention
    assert "identity.device-registry.v1" not in retention
    assert "identity.device-registry.v1.dlq" in retention  # dead letters expire too
    for t in all_topics():
        if t.name in retention:
            assert retention[t.name] == t.erasure_bound_ms
            assert t.retention_ms > 0
    assert all(store in planned_stores() for store in (f"kafka:{n}" for n in retention))
