from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from trackstream_events.envelope import Envelope, InvalidEnvelope, uuid7


def test_headers_round_trip_every_attribute() -> None:
    envelope = Envelope(
        type="trackstream.tracking.v1.PositionReported",
        source="/ingest/gt06",
        subject="dev-1",
        time=datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate="vendor=1",
        correlation_id="corr",
        causation_id="cause",
    )
    headers = envelope.to_headers()
    assert dict(headers)["ce_time"] == b"2026-11-28T10:00:00.123456Z"
    assert dict(headers)["ce_specversion"] == b"1.0"
    assert Envelope.from_headers(headers) == envelope


def test_time_is_written_in_utc_whatever_the_zone() -> None:
    local = datetime(2026, 11, 28, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    envelope = Envelope(type="t", source="/s", subject="d", time=local)
    assert dict(envelope.to_headers())["ce_time"] == b"2026-11-28T10:00:00.000000Z"


def test_naive_time_is_refused() -> None:
    envelope = Envelope(type="t", source="/s", subject="d", time=datetime(2026, 1, 1))
    with pytest.raises(InvalidEnvelope, match="timezone-aware"):
        envelope.to_headers()


def test_missing_attributes_are_named() -> None:
    with pytest.raises(InvalidEnvelope, match="ce_type, ce_time"):
        Envelope.from_headers([("ce_id", b"1"), ("ce_source", b"/s"), ("ce_subject", b"d")])


def test_unsupported_version_and_unreadable_time_are_refused() -> None:
    headers = Envelope(type="t", source="/s", subject="d").to_headers()
    with pytest.raises(InvalidEnvelope, match=r"ce_specversion '2\.0'"):
        Envelope.from_headers([*headers, ("ce_specversion", b"2.0")])
    bad_time = [(k, b"yesterday" if k == "ce_time" else v) for k, v in headers]
    with pytest.raises(InvalidEnvelope, match="ce_time is not RFC 3339: 'yesterday'"):
        Envelope.from_headers(bad_time)


def test_time_in_utc_with_z_is_read_aware() -> None:
    headers = Envelope(type="t", source="/s", subject="d").to_headers()
    stamped = [(k, b"2026-11-28T10:00:00.5Z" if k == "ce_time" else v) for k, v in headers]
    assert Envelope.from_headers(stamped).time == datetime(2026, 11, 28, 10, 0, 0, 500000, UTC)


def test_caused_event_keeps_correlation_and_points_at_its_cause() -> None:
    first = Envelope(type="a", source="/x", subject="dev-1")
    second = first.caused(type="b", source="/y")
    third = second.caused(type="c", source="/z")
    assert (second.correlation_id, second.causation_id) == (first.id, first.id)
    assert (third.correlation_id, third.causation_id) == (first.id, second.id)
    assert third.subject == "dev-1"


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(200)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    millis = [u.int >> 80 for u in parsed]
    assert millis == sorted(millis)
    assert len(set(ids)) == len(ids)


def test_identifier_hmac_is_keyed_and_edition_independent() -> None:
    from trackstream_events.pseudonyms import identifier_hmac

    key = b"k" * 32
    assert identifier_hmac(key, "013912345678") == identifier_hmac(key, "00000000013912345678")
    assert identifier_hmac(key, "359339077003915") != identifier_hmac(b"x" * 32, "359339077003915")
    assert len(identifier_hmac(key, "359339077003915")) == 32
    with pytest.raises(ValueError, match="at least 16 bytes"):
        identifier_hmac(b"short", "359339077003915")


def test_each_time_is_formatted_as_itself_when_events_share_or_change_their_time() -> None:
    """The last formatted time is reused for the same datetime object (one per publishing
    call), never for another one, even an equal one in another zone."""
    first = datetime(2026, 11, 28, 10, 0, 0, 1, tzinfo=UTC)
    second = datetime(2026, 11, 28, 10, 0, 0, 2, tzinfo=UTC)
    zoned = datetime(2026, 11, 28, 12, 0, 0, 2, tzinfo=timezone(timedelta(hours=2)))

    def ce_time(when: datetime) -> bytes:
        return dict(Envelope(type="t", source="/s", subject="x", time=when).to_headers())["ce_time"]

    assert ce_time(first) == ce_time(first) == b"2026-11-28T10:00:00.000001Z"
    assert ce_time(second) == b"2026-11-28T10:00:00.000002Z"
    assert ce_time(zoned) == b"2026-11-28T10:00:00.000002Z"
    assert ce_time(first) == b"2026-11-28T10:00:00.000001Z"
