"""Refresh-token rules: single use, rotation, reuse detection, expiry; time is passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity.domain import sessions
from identity.domain.model import Session
from identity.domain.sessions import RefreshVerdict

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MONTH = timedelta(days=30)


def opened(token: str) -> Session:
    return sessions.open_session(
        session_id="s",
        account_id="a",
        refresh_token=token,
        now=NOW,
        refresh_lifetime=MONTH,
        access_expires_time=NOW + timedelta(minutes=15),
    )


def test_refresh_tokens_are_256_bit_random_and_stored_only_as_sha256() -> None:
    a, b = sessions.new_refresh_token(), sessions.new_refresh_token()
    assert a != b and len(a) >= 43  # 32 bytes, base64url
    session = opened(a)
    assert a.encode() not in session.refresh_sha256 and len(session.refresh_sha256) == 32
    assert session.refresh_sha256 == sessions.refresh_digest(a)


def test_the_current_token_rotates_and_the_old_one_is_then_reuse() -> None:
    first = sessions.new_refresh_token()
    session = opened(first)
    assert sessions.judge_refresh(session, sessions.refresh_digest(first), now=NOW) is (
        RefreshVerdict.ROTATE
    )
    second = sessions.new_refresh_token()
    later = NOW + timedelta(days=1)
    after = sessions.rotated(
        session,
        refresh_token=second,
        now=later,
        refresh_lifetime=MONTH,
        access_expires_time=later + timedelta(minutes=15),
    )
    assert after.generation == 1
    assert after.expires_time == later + MONTH  # sliding
    assert after.access_expires_time == later + timedelta(minutes=15)
    assert sessions.judge_refresh(after, sessions.refresh_digest(first), now=later) is (
        RefreshVerdict.REUSED
    )
    assert sessions.judge_refresh(after, sessions.refresh_digest(second), now=later) is (
        RefreshVerdict.ROTATE
    )


def test_expired_and_revoked_sessions_do_not_refresh() -> None:
    token = sessions.new_refresh_token()
    session = opened(token)
    digest = sessions.refresh_digest(token)
    assert sessions.judge_refresh(session, digest, now=NOW + MONTH) is RefreshVerdict.EXPIRED
    assert sessions.judge_refresh(sessions.revoked(session), digest, now=NOW) is (
        RefreshVerdict.REVOKED
    )


def test_the_latest_access_expiry_is_kept_for_the_revocation() -> None:
    token = sessions.new_refresh_token()
    session = opened(token)
    after = sessions.rotated(
        session,
        refresh_token="x",
        now=NOW,
        refresh_lifetime=MONTH,
        access_expires_time=NOW,  # an earlier expiry never shortens what revocation must cover
    )
    assert after.access_expires_time == session.access_expires_time
