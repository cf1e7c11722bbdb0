"""Login sessions and their refresh tokens: pure rules, time passed in.

A refresh token is 256 random bits, stored only as its SHA-256. It is single use: refreshing
returns a new pair and retires the presented token. A retired token presented again means it
was copied (or the legitimate client lost a race with a thief): the whole session is revoked
(reuse detection, RFC 6819 5.2.2.3 / OAuth 2.0 Security BCP 4.14).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from enum import Enum

from identity.domain.model import Session


def new_refresh_token() -> str:
    """256 random bits, URL-safe text."""
    return secrets.token_urlsafe(32)


def refresh_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def open_session(
    *,
    session_id: str,
    account_id: str,
    refresh_token: str,
    now: datetime,
    refresh_lifetime: timedelta,
    access_expires_time: datetime,
) -> Session:
    return Session(
        session_id=session_id,
        account_id=account_id,
        refresh_sha256=refresh_digest(refresh_token),
        generation=0,
        created_time=now,
        expires_time=now + refresh_lifetime,
        access_expires_time=access_expires_time,
        revoked=False,
    )


class RefreshVerdict(Enum):
    #: the current token, in time: rotate
    ROTATE = "rotate"
    #: a token this session retired: revoke the session
    REUSED = "reused"
    #: the session was revoked already
    REVOKED = "revoked"
    #: the refresh token expired
    EXPIRED = "expired"


def judge_refresh(session: Session, presented_sha256: bytes, *, now: datetime) -> RefreshVerdict:
    if session.revoked:
        return RefreshVerdict.REVOKED
    if not secrets.compare_digest(session.refresh_sha256, presented_sha256):
        return RefreshVerdict.REUSED
    if now >= session.expires_time:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.ROTATE


def rotated(
    session: Session,
    *,
    refresh_token: str,
    now: datetime,
    refresh_lifetime: timedelta,
    access_expires_time: datetime,
) -> Session:
    """The session after a rotation: a new current token (sliding expiry), one generation on."""
    return replace(
        session,
        refresh_sha256=refresh_digest(refresh_token),
        generation=session.generation + 1,
        expires_time=now + refresh_lifetime,
        access_expires_time=max(session.access_expires_time, access_expires_time),
    )


def revoked(session: Session) -> Session:
    return replace(session, revoked=True)
