"""Rate limits, page tokens, time ranges, commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.commands import BadCommand, CommandBook, CommandState, check_command
from gateway.domain.paging import BadPageToken, decode_token, encode_token, page_after
from gateway.domain.ratelimit import RateLimiter
from gateway.domain.timerange import BadTimeRange, checked_range
from trackstream.tracking.v1 import command_pb2

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_bucket_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=10, burst=5)
    decisions = [limiter.take("k", 100.0) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[4].remaining == 0
    assert decisions[5].retry_after_s == pytest.approx(0.1)
    assert limiter.take("k", 100.1).allowed  # one token back after 1/rate seconds
    assert not limiter.take("k", 100.1).allowed
    assert limiter.take("other", 100.1).allowed  # buckets are per key


def test_bucket_refills_to_the_burst_and_no_more() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=3)
    for _ in range(3):
        limiter.take("k", 0.0)
    decision = limiter.take("k", 1000.0)
    assert decision.allowed and decision.remaining == 2


def test_page_tokens_round_trip_and_refuse_forgeries() -> None:
    token = encode_token("devices", "d-17")
    assert decode_token("devices", token) == "d-17"
    with pytest.raises(BadPageToken):
        decode_token("accounts", token)
    for junk in ("", "!!!", "eyJ4IjoxfQ", "bm90IGpzb24"):
        with pytest.raises(BadPageToken):
            decode_token("devices", junk)


def test_pages_follow_the_sorted_ids() -> None:
    ids = [f"d{i:02}" for i in range(7)]
    page, last = page_after(ids, None, 3)
    assert page == ["d00", "d01", "d02"] and last == "d02"
    page, last = page_after(ids, last, 3)
    assert page == ["d03", "d04", "d05"] and last == "d05"
    page, last = page_after(ids, last, 3)
    assert page == ["d06"] and last is None
    # an id that vanished between pages: continue after where it was
    assert page_after(["a", "c"], "b", 5) == (["c"], None)


def test_time_ranges_are_ordered_and_capped_at_31_days() -> None:
    assert checked_range(T0, T0 + timedelta(days=31)) == (T0, T0 + timedelta(days=31))
    naive = datetime(2026, 6, 1)
    assert checked_range(naive, naive + timedelta(hours=1))[0].tzinfo is UTC
    for start, end in (
        (T0, T0),
        (T0, T0 - timedelta(seconds=1)),
        (T0, T0 + timedelta(days=31, seconds=1)),
        (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC)),
    ):
        with pytest.raises(BadTimeRange):
            checked_range(start, end)


def test_commands_are_checked_as_ingest_will_encode_them() -> None:
    assert check_command("engine_stop", "", {}) == command_pb2.COMMAND_KIND_ENGINE_STOP
    assert check_command("custom_text", "WHERE#", {}) == command_pb2.COMMAND_KIND_CUSTOM_TEXT
    assert check_command("set_parameters", "", {"0x0029": "30"}) == (
        command_pb2.COMMAND_KIND_SET_PARAMETERS
    )
    for kind, text, parameters in (
        ("reboot", "", {}),
        ("custom_text", "  ", {}),
        ("set_parameters", "", {}),
        ("set_parameters", "", {"speed": "30"}),
        ("terminal_control", "", {"command": "x"}),
        ("take_photo", "", {"channel": "front"}),
    ):
        with pytest.raises(BadCommand):
            check_command(kind, text, parameters)


def test_command_book_keeps_the_latest_status_and_forgets_the_oldest() -> None:
    book = CommandBook(capacity=2)
    book.record(CommandState("c1", "d1", "pending", T0))
    book.record(CommandState("c1", "", "delivered", T0 + timedelta(seconds=1)))
    book.record(CommandState("c1", "d1", "pending", T0 + timedelta(seconds=2)))  # replayed late
    state = book.get("c1")
    assert state is not None and state.status == "delivered" and state.device_id == "d1"
    book.record(CommandState("c2", "d1", "pending", T0))
    book.record(CommandState("c3", "d1", "pending", T0))
    assert book.get("c1") is None and len(book) == 2


def test_logged_urls_lose_their_tokens() -> None:
    import logging

    from gateway.api.request_context import UrlScrubber, scrub_url

    assert scrub_url('"WebSocket /v1/live?access_token=eyJabc.def" [accepted]') == (
        '"WebSocket /v1/live?<query>" [accepted]'
    )
    assert scrub_url("GET /v1/shared/eyJx.y.z/position") == "GET /v1/shared/<token>/position"
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s"',
        ("ip", "/v1/live?t=s3cr3t"),
        None,
    )
    assert UrlScrubber().filter(record) and "s3cr3t" not in record.getMessage()
