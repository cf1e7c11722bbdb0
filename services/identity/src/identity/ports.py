"""What the handlers need from the outside world, as protocols (adapters and fakes fit them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from google.protobuf.message import Message

from identity.domain.model import Account, ApiKey, Device, Session, ShareLink
from trackstream_events.envelope import Envelope


class Publisher(Protocol):
    async def publish(
        self,
        topic: str,
        event: Message,
        *,
        key: str,
        time_: datetime | None = None,
        cause: Envelope | None = None,
    ) -> Envelope: ...

    async def publish_tombstone(self, topic: str, *, key: str) -> None: ...


class PasswordHashing(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password; with ``password_hash`` None, spends the same time
        verifying against a dummy hash and returns False."""
        ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class IdentityStore(Protocol):
    # accounts
    async def claim_platform(self, account_id: str) -> str | None:
        """Claim the single platform slot; None if claimed now, else the holder's id."""
        ...

    async def platform_account_id(self) -> str | None: ...

    async def claim_email(self, email_hmac: bytes, account_id: str) -> str | None:
        """Claim an e-mail for an account; None if claimed now, else the holder's id."""
        ...

    async def take_over_email(self, email_hmac: bytes, holder: str, account_id: str) -> bool:
        """Move a claim whose holder never got written to ``account_id`` (conditional)."""
        ...

    async def account_id_by_email(self, email_hmac: bytes) -> str | None: ...

    async def save_account(self, account: Account) -> None: ...

    async def get_account(self, account_id: str) -> Account | None: ...

    async def add_child(self, parent_account_id: str, account_id: str) -> None: ...

    async def children(self, parent_account_id: str, *, after: str, limit: int) -> list[str]:
        """Ids of direct children, ascending, strictly after ``after``."""
        ...

    # devices
    async def claim_identifier(self, identifier_hmac: bytes, device_id: str) -> str | None: ...

    async def take_over_identifier(
        self, identifier_hmac: bytes, holder: str, device_id: str
    ) -> bool: ...

    async def save_device(self, device: Device) -> None: ...

    async def get_device(self, device_id: str) -> Device | None: ...

    async def get_devices(self, device_ids: Sequence[str]) -> list[Device]:
        """The ones that exist, in the order asked."""
        ...

    # sessions
    async def save_session(self, session: Session) -> None:
        """A new session: its row, its refresh token's lookup, its account's index."""
        ...

    async def rotate_session(self, old: Session, new: Session) -> bool:
        """Replace the session's current token if it is still ``old.generation`` (conditional);
        False if another refresh won."""
        ...

    async def session_id_by_refresh(self, refresh_sha256: bytes) -> str | None: ...

    async def get_session(self, session_id: str) -> Session | None: ...

    async def revoke_session(self, session_id: str) -> None: ...

    async def sessions_of(self, account_id: str) -> list[str]: ...

    # share links
    async def save_share_link(self, link: ShareLink) -> None: ...

    async def get_share_link(self, link_id: str) -> ShareLink | None: ...

    # API keys
    async def save_api_key(self, key: ApiKey) -> None: ...

    async def get_api_key(self, key_id: str) -> ApiKey | None: ...

    async def api_keys_of(self, account_id: str) -> list[ApiKey]: ...

    # what was written but maybe not published
    async def mark_unpublished(self, kind: str, entity_id: str) -> int:
        """Mark an entity as changed-but-unpublished; returns the mark's version: the time
        it was made, in microseconds since the epoch (increasing)."""
        ...

    async def clear_unpublished(self, kind: str, entity_id: str, mark: int) -> None:
        """Remove the mark if it is no newer than ``mark`` (a later change keeps its own)."""
        ...

    async def unpublished(self) -> list[tuple[str, str, int]]:
        """(kind, entity id, mark) of every marked entity."""
        ...
