"""Fakes for the identity handlers: an in-memory store, a settable clock, cheap argon2."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from identity.adapters.passwords import Argon2Passwords
from identity.domain.model import Account, ApiKey, Device, Session, ShareLink
from identity.handlers import Identity, Lifetimes
from trackstream_auth import SigningKey
from trackstream_testing import FakePublisher

IDENTIFIER_KEY = b"unit-test-identifier-key-0123456789"
LOOKUP_KEY = b"unit-test-lookup-key-0123456789"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


class InMemoryIdentityStore:
    """The IdentityStore port in memory, with the same conditional semantics as Cassandra."""

    def __init__(self) -> None:
        self.platform: str | None = None
        self.emails: dict[bytes, str] = {}
        self.accounts: dict[str, Account] = {}
        self.children_of: dict[str, set[str]] = {}
        self.identifiers: dict[bytes, str] = {}
        self.devices: dict[str, Device] = {}
        self.sessions: dict[str, Session] = {}
        self.refresh: dict[bytes, str] = {}
        self.sessions_by_account: dict[str, set[str]] = {}
        self.links: dict[str, ShareLink] = {}
        self.keys: dict[str, ApiKey] = {}
        self.marks: dict[tuple[str, str], int] = {}
        #: marks are times in microseconds, like Cassandra's (set by the harness's clock)
        self.mark_clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._last_mark = 0

    async def claim_platform(self, account_id: str) -> str | None:
        if self.platform is None:
            self.platform = account_id
            return None
        return self.platform

    async def platform_account_id(self) -> str | None:
        return self.platform

    async def claim_email(self, email_hmac: bytes, account_id: str) -> str | None:
        holder = self.emails.setdefault(email_hmac, account_id)
        return None if holder == account_id else holder

    async def take_over_email(self, email_hmac: bytes, holder: str, account_id: str) -> bool:
        if self.emails.get(email_hmac) != holder:
            return False
        self.emails[email_hmac] = account_id
        return True

    async def account_id_by_email(self, email_hmac: bytes) -> str | None:
        return self.emails.get(email_hmac)

    async def save_account(self, account: Account) -> None:
        self.accounts[account.account_id] = account

    async def get_account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def add_child(self, parent_account_id: str, account_id: str) -> None:
        self.children_of.setdefault(parent_account_id, set()).add(account_id)

    async def children(self, parent_account_id: str, *, after: str, limit: int) -> list[str]:
        ids = sorted(i for i in self.children_of.get(parent_account_id, ()) if i > after)
        return ids[:limit]

    async def claim_identifier(self, identifier_hmac: bytes, device_id: str) -> str | None:
        holder = self.identifiers.setdefault(identifier_hmac, device_id)
        return None if holder == device_id else holder

    async def take_over_identifier(
        self, identifier_hmac: bytes, holder: str, device_id: str
    ) -> bool:
        if self.identifiers.get(identifier_hmac) != holder:
            return False
        self.identifiers[identifier_hmac] = device_id
        return True

    async def save_device(self, device: Device) -> None:
        self.devices[device.device_id] = device

    async def get_device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    async def get_devices(self, device_ids: Sequence[str]) -> list[Device]:
        return [self.devices[d] for d in device_ids if d in self.devices]

    async def save_session(self, session: Session) -> None:
        self.sessions[session.session_id] = session
        self.refresh[session.refresh_sha256] = session.session_id
        self.sessions_by_account.setdefault(session.account_id, set()).add(session.session_id)

    async def rotate_session(self, old: Session, new: Session) -> bool:
        self.refresh[new.refresh_sha256] = new.session_id
        current = self.sessions[old.session_id]
        if current.generation != old.generation or current.revoked:
            return False
        self.sessions[old.session_id] = replace(
            current,
            refresh_sha256=new.refresh_sha256,
            generation=new.generation,
            expires_time=new.expires_time,
            access_expires_time=new.access_expires_time,
        )
        return True

    async def session_id_by_refresh(self, refresh_sha256: bytes) -> str | None:
        return self.refresh.get(refresh_sha256)

    async def get_session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    async def revoke_session(self, session_id: str) -> None:
        self.sessions[session_id] = replace(self.sessions[session_id], revoked=True)

    async def sessions_of(self, account_id: str) -> list[str]:
        return sorted(self.sessions_by_account.get(account_id, ()))

    async def save_share_link(self, link: ShareLink) -> None:
        self.links[link.link_id] = link

    async def get_share_link(self, link_id: str) -> ShareLink | None:
        return self.links.get(link_id)

    async def save_api_key(self, key: ApiKey) -> None:
        self.keys[key.key_id] = key

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        return self.keys.get(key_id)

    async def api_keys_of(self, account_id: str) -> list[ApiKey]:
        return sorted(
            (k for k in self.keys.values() if k.account_id == account_id), key=lambda k: k.key_id
        )

    async def mark_unpublished(self, kind: str, entity_id: str) -> int:
        mark = self._last_mark = max(
            int(self.mark_clock().timestamp() * 1_000_000), self._last_mark + 1
        )
        self.marks[(kind, entity_id)] = mark
        return mark

    async def clear_unpublished(self, kind: str, entity_id: str, mark: int) -> None:
        if self.marks.get((kind, entity_id), 0) <= mark:
            self.marks.pop((kind, entity_id), None)

    async def unpublished(self) -> list[tuple[str, str, int]]:
        return [(kind, entity_id, mark) for (kind, entity_id), mark in sorted(self.marks.items())]


def cheap_passwords() -> Argon2Passwords:
    """Real argon2id with the smallest parameters: the same behaviour, microseconds per hash."""
    return Argon2Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Harness:
    def __init__(self) -> None:
        self.store = InMemoryIdentityStore()
        self.publisher = FakePublisher(source="/identity")
        self.clock = FakeClock()
        self.store.mark_clock = self.clock
        self.signing_key = SigningKey.generate()
        self.identity = Identity(
            store=self.store,
            publisher=self.publisher,
            passwords=cheap_passwords(),
            signing_key=self.signing_key,
            identifier_key=IDENTIFIER_KEY,
            lookup_key=LOOKUP_KEY,
            clock=self.clock,
            lifetimes=Lifetimes(),
        )


@pytest.fixture
def harness() -> Harness:
    return Harness()
