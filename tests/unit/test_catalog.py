from __future__ import annotations

import re
from pathlib import Path

from trackstream_events.catalog import (
    BUCKETS,
    TOPIC_NAME,
    TOPICS,
    CleanupPolicy,
    ErasureClass,
    all_topics,
    topic,
)
from trackstream_events.registry import default_registry

#: random or keyed-hash ids: never an IMEI, phone number or e-mail
PSEUDONYMOUS_KEYS = {
    "device_id",
    "subject_id",
    "identifier_hmac",
    "account_id",
    "credential_id",
    "key_id",
    "geofence_id",
    "rule_id",
    "request_id",
}

ROOT = Path(__file__).resolve().parents[2]


def test_topic_names_follow_the_convention_and_are_unique() -> None:
    names = [t.name for t in all_topics()]
    assert len(names) == len(set(names))
    for name in names:
        assert TOPIC_NAME.match(name), name
    assert not TOPIC_NAME.match("positions"), "the check must reject a bare name"
    assert not TOPIC_NAME.match("tracking.positions"), "the check must reject a missing version"


def test_every_topic_is_keyed_by_a_pseudonymous_id() -> None:
    for t in all_topics():
        assert t.key in PSEUDONYMOUS_KEYS, t.name


def test_every_value_type_is_a_registered_event() -> None:
    registry = default_registry()
    for t in TOPICS:
        assert t.value_types, t.name
        for value_type in t.value_types:
            assert value_type in registry, f"{t.name}: {value_type}"


def test_erasure_class_matches_cleanup_policy() -> None:
    for t in all_topics():
        if t.erasure is ErasureClass.TOMBSTONE:
            assert t.cleanup_policy is CleanupPolicy.COMPACT, t.name
        if t.erasure is ErasureClass.RETENTION:
            assert t.cleanup_policy is CleanupPolicy.DELETE, t.name
            # the class B promise: expired within 72 h plus one segment roll (quarantine: 7 days,
            # it holds no identifier, only an HMAC and the last fix of an unclaimed device)
            limit = 7 * 24 if t.name.startswith("tracking.quarantine.") else 72
            assert t.retention_ms <= limit * 3_600_000, t.name


def test_dead_letter_siblings_keep_the_retention_of_their_topic_and_never_keep_forever() -> None:
    for main in TOPICS:
        dlq = topic(f"{main.name}.dlq")
        assert dlq.cleanup_policy is CleanupPolicy.DELETE
        if main.cleanup_policy is CleanupPolicy.DELETE:
            assert dlq.retention_ms == main.retention_ms
        else:  # a compacted topic's dead letters are not compacted: they must expire
            assert 0 < dlq.retention_ms <= 72 * 3_600_000, dlq.name
        assert dlq.erasure is ErasureClass.INTERNAL


def test_configs_bound_erasure() -> None:
    positions = topic("tracking.positions.v1")
    assert positions.configs() == {
        "cleanup.policy": "delete",
        "segment.ms": "3600000",
        "retention.ms": str(3 * 24 * 3_600_000),
    }


def test_architecture_doc_lists_exactly_the_catalog() -> None:
    """docs/architecture.md stays true: its topic and bucket tables match the catalog."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `([a-z0-9.-]+)` \|", doc, flags=re.MULTILINE)
    declared = {t.name for t in TOPICS} | {b.name for b in BUCKETS}
    assert set(rows) == declared
    for t in TOPICS:
        line = next(line for line in doc.splitlines() if line.startswith(f"| `{t.name}` |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == t.owner, t.name
        assert cells[3] == str(t.partitions), t.name
        assert cells[4] == t.cleanup_policy.value, t.name
        assert cells[6] == t.erasure.value, t.name
