"""The identity tables in Cassandra (deploy/cassandra/migrations/0003_identity.cql).

Uniqueness (an e-mail, a device identifier, the platform slot) is claimed with lightweight
transactions (``IF NOT EXISTS``) at SERIAL consistency, so two concurrent creates cannot both win.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from identity.domain.model import (
    Account,
    AccountKind,
    AccountRole,
    ApiKey,
    Device,
    DeviceShare,
    LocationConsent,
    Retention,
    Session,
    ShareLink,
)
from trackstream_cassandra import CassandraStore

#: the one partition of the unpublished marks (they live only until a publish is acknowledged)
_SHARD = 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(value: datetime | None) -> datetime | None:
    """The driver returns naive UTC datetimes."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _millis(value: datetime) -> int:
    return int((value - _EPOCH).total_seconds() * 1000)


def _applied(rows: list[Any]) -> tuple[bool, Any]:
    row = rows[0]
    return bool(row.applied), row


class CassandraIdentityStore:
    def __init__(self, cassandra: CassandraStore) -> None:
        self._db = cassandra
        self._last_mark = 0

    async def _claim(self, cql: str, params: Sequence[Any], holder_column: str) -> str | None:
        applied, row = _applied(await self._db.execute(cql, params))
        return None if applied else str(getattr(row, holder_column))

    # ------------------------------------------------------------------ accounts

    async def claim_platform(self, account_id: str) -> str | None:
        return await self._claim(
            "INSERT INTO identity_platform (singleton, account_id) VALUES ('platform', ?) "
            "IF NOT EXISTS",
            [account_id],
            "account_id",
        )

    async def platform_account_id(self) -> str | None:
        rows = await self._db.execute(
            "SELECT account_id FROM identity_platform WHERE singleton = 'platform'"
        )
        return str(rows[0].account_id) if rows else None

    async def claim_email(self, email_hmac: bytes, account_id: str) -> str | None:
        return await self._claim(
            "INSERT INTO identity_accounts_by_email (email_hmac, account_id) VALUES (?, ?) "
            "IF NOT EXISTS",
            [email_hmac, account_id],
            "account_id",
        )

    async def take_over_email(self, email_hmac: bytes, holder: str, account_id: str) -> bool:
        applied, _ = _applied(
            await self._db.execute(
                "UPDATE identity_accounts_by_email SET account_id = ? WHERE email_hmac = ? "
                "IF account_id = ?",
                [account_id, email_hmac, holder],
            )
        )
        return applied

    async def account_id_by_email(self, email_hmac: bytes) -> str | None:
        rows = await self._db.execute(
            "SELECT account_id FROM identity_accounts_by_email WHERE email_hmac = ?", [email_hmac]
        )
        return str(rows[0].account_id) if rows else None

    async def save_account(self, account: Account) -> None:
        await self._db.execute(
            "INSERT INTO identity_accounts (account_id, parent_account_id, ancestor_account_ids, "
            "kind, role, email, phone, display_name, password_hash, disabled, created_time, "
            "positions_retention_days, alarms_retention_days, media_retention_days) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                account.account_id,
                account.parent_account_id,
                list(account.ancestor_account_ids),
                int(account.kind),
                int(account.role),
                account.email,
                account.phone,
                account.display_name,
                account.password_hash,
                account.disabled,
                account.created_time,
                account.retention.positions_days,
                account.retention.alarms_days,
                account.retention.media_days,
            ],
        )

    async def get_account(self, account_id: str) -> Account | None:
        rows = await self._db.execute(
            "SELECT account_id, parent_account_id, ancestor_account_ids, kind, role, email, "
            "phone, display_name, password_hash, disabled, created_time, "
            "positions_retention_days, alarms_retention_days, media_retention_days "
            "FROM identity_accounts WHERE account_id = ?",
            [account_id],
        )
        if not rows:
            return None
        r = rows[0]
        return Account(
            account_id=r.account_id,
            parent_account_id=r.parent_account_id or "",
            ancestor_account_ids=tuple(r.ancestor_account_ids or ()),
            kind=AccountKind(r.kind),
            role=AccountRole(r.role),
            email=r.email or "",
            phone=r.phone or "",
            display_name=r.display_name or "",
            password_hash=r.password_hash or "",
            disabled=bool(r.disabled),
            created_time=_utc(r.created_time) or _EPOCH,
            retention=Retention(
                positions_days=r.positions_retention_days or 0,
                alarms_days=r.alarms_retention_days or 0,
                media_days=r.media_retention_days or 0,
            ),
        )

    async def add_child(self, parent_account_id: str, account_id: str) -> None:
        await self._db.execute(
            "INSERT INTO identity_sub_accounts (parent_account_id, account_id) VALUES (?, ?)",
            [parent_account_id, account_id],
        )

    async def children(self, parent_account_id: str, *, after: str, limit: int) -> list[str]:
        rows = await self._db.execute(
            "SELECT account_id FROM identity_sub_accounts "
            "WHERE parent_account_id = ? AND account_id > ? LIMIT ?",
            [parent_account_id, after, limit],
        )
        return [r.account_id for r in rows]

    # ------------------------------------------------------------------ devices

    async def claim_identifier(self, identifier_hmac: bytes, device_id: str) -> str | None:
        return await self._claim(
            "INSERT INTO identity_devices_by_identifier (identifier_hmac, device_id) "
            "VALUES (?, ?) IF NOT EXISTS",
            [identifier_hmac, device_id],
            "device_id",
        )

    async def take_over_identifier(
        self, identifier_hmac: bytes, holder: str, device_id: str
    ) -> bool:
        applied, _ = _applied(
            await self._db.execute(
                "UPDATE identity_devices_by_identifier SET device_id = ? "
                "WHERE identifier_hmac = ? IF device_id = ?",
                [device_id, identifier_hmac, holder],
            )
        )
        return applied

    async def save_device(self, device: Device) -> None:
        await self._db.execute(
            "INSERT INTO identity_devices (device_id, identifier, identifier_hmac, protocol, "
            "model, name, owner_account_id, device_timezone, disabled, expiry_time, "
            "registered_time, shares, location_consent, worn_by_minor, guardian_consent) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                device.device_id,
                device.identifier,
                device.identifier_hmac,
                device.protocol,
                device.model,
                device.name,
                device.owner_account_id,
                device.device_timezone,
                device.disabled,
                device.expiry_time,
                device.registered_time,
                {s.account_id: _millis(s.until_time) if s.until_time else 0 for s in device.shares},
                int(device.location_consent),
                device.worn_by_minor,
                device.guardian_consent,
            ],
        )

    _DEVICE = (
        "SELECT device_id, identifier, identifier_hmac, protocol, model, name, owner_account_id, "
        "device_timezone, disabled, expiry_time, registered_time, shares, location_consent, "
        "worn_by_minor, guardian_consent FROM identity_devices WHERE device_id = ?"
    )

    @staticmethod
    def _device(r: Any) -> Device:
        shares = tuple(
            DeviceShare(
                account_id,
                datetime.fromtimestamp(until / 1000, tz=UTC) if until else None,
            )
            for account_id, until in sorted((r.shares or {}).items())
        )
        return Device(
            device_id=r.device_id,
            identifier=r.identifier or "",
            identifier_hmac=bytes(r.identifier_hmac or b""),
            protocol=r.protocol or "",
            model=r.model or "",
            name=r.name or "",
            owner_account_id=r.owner_account_id or "",
            device_timezone=r.device_timezone or "UTC",
            disabled=bool(r.disabled),
            expiry_time=_utc(r.expiry_time),
            registered_time=_utc(r.registered_time) or _EPOCH,
            shares=shares,
            location_consent=LocationConsent(r.location_consent or 0),
            worn_by_minor=bool(r.worn_by_minor),
            guardian_consent=bool(r.guardian_consent),
        )

    async def get_device(self, device_id: str) -> Device | None:
        rows = await self._db.execute(self._DEVICE, [device_id])
        return self._device(rows[0]) if rows else None

    async def get_devices(self, device_ids: Sequence[str]) -> list[Device]:
        found = await asyncio.gather(*(self.get_device(d) for d in device_ids))
        return [d for d in found if d is not None]

    # ------------------------------------------------------------------ sessions

    async def save_session(self, session: Session) -> None:
        ttl = max(1, int((session.expires_time - session.created_time).total_seconds()))
        await self._db.execute(
            "INSERT INTO identity_sessions (session_id, account_id, refresh_sha256, generation, "
            "created_time, expires_time, access_expires_time, revoked) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                session.session_id,
                session.account_id,
                session.refresh_sha256,
                session.generation,
                session.created_time,
                session.expires_time,
                session.access_expires_time,
                session.revoked,
            ],
        )
        await self._remember_refresh(session, ttl)
        await self._db.execute(
            "INSERT INTO identity_sessions_by_account (account_id, session_id) VALUES (?, ?)",
            [session.account_id, session.session_id],
        )

    async def _remember_refresh(self, session: Session, ttl: int) -> None:
        await self._db.execute(
            "INSERT INTO identity_sessions_by_refresh (refresh_sha256, session_id, generation) "
            "VALUES (?, ?, ?) USING TTL ?",
            [session.refresh_sha256, session.session_id, session.generation, ttl],
        )

    async def rotate_session(self, old: Session, new: Session) -> bool:
        # the new token is findable before it is handed out
        ttl = max(1, int((new.expires_time - datetime.now(UTC)).total_seconds()))
        await self._remember_refresh(new, ttl)
        applied, _ = _applied(
            await self._db.execute(
                "UPDATE identity_sessions SET refresh_sha256 = ?, generation = ?, "
                "expires_time = ?, access_expires_time = ? WHERE session_id = ? "
                "IF generation = ? AND revoked = false",
                [
                    new.refresh_sha256,
                    new.generation,
                    new.expires_time,
                    new.access_expires_time,
                    old.session_id,
                    old.generation,
                ],
            )
        )
        return applied

    async def session_id_by_refresh(self, refresh_sha256: bytes) -> str | None:
        rows = await self._db.execute(
            "SELECT session_id FROM identity_sessions_by_refresh WHERE refresh_sha256 = ?",
            [refresh_sha256],
        )
        return str(rows[0].session_id) if rows else None

    async def get_session(self, session_id: str) -> Session | None:
        rows = await self._db.execute(
            "SELECT session_id, account_id, refresh_sha256, generation, created_time, "
            "expires_time, access_expires_time, revoked FROM identity_sessions "
            "WHERE session_id = ?",
            [session_id],
        )
        if not rows:
            return None
        r = rows[0]
        return Session(
            session_id=r.session_id,
            account_id=r.account_id,
            refresh_sha256=bytes(r.refresh_sha256),
            generation=r.generation,
            created_time=_utc(r.created_time) or _EPOCH,
            expires_time=_utc(r.expires_time) or _EPOCH,
            access_expires_time=_utc(r.access_expires_time) or _EPOCH,
            revoked=bool(r.revoked),
        )

    async def revoke_session(self, session_id: str) -> None:
        await self._db.execute(
            "UPDATE identity_sessions SET revoked = true WHERE session_id = ?", [session_id]
        )

    async def sessions_of(self, account_id: str) -> list[str]:
        rows = await self._db.execute(
            "SELECT session_id FROM identity_sessions_by_account WHERE account_id = ?",
            [account_id],
        )
        return [r.session_id for r in rows]

    # ------------------------------------------------------------------ share links

    async def save_share_link(self, link: ShareLink) -> None:
        await self._db.execute(
            "INSERT INTO identity_share_links (link_id, device_id, account_id, created_time, "
            "expires_time, revoked) VALUES (?, ?, ?, ?, ?, ?)",
            [
                link.link_id,
                link.device_id,
                link.account_id,
                link.created_time,
                link.expires_time,
                link.revoked,
            ],
        )

    async def get_share_link(self, link_id: str) -> ShareLink | None:
        rows = await self._db.execute(
            "SELECT link_id, device_id, account_id, created_time, expires_time, revoked "
            "FROM identity_share_links WHERE link_id = ?",
            [link_id],
        )
        if not rows:
            return None
        r = rows[0]
        return ShareLink(
            link_id=r.link_id,
            device_id=r.device_id,
            account_id=r.account_id,
            created_time=_utc(r.created_time) or _EPOCH,
            expires_time=_utc(r.expires_time) or _EPOCH,
            revoked=bool(r.revoked),
        )

    # ------------------------------------------------------------------ API keys

    async def save_api_key(self, key: ApiKey) -> None:
        await self._db.execute(
            "INSERT INTO identity_api_keys (key_id, account_id, name, secret_sha256, "
            "created_time, expires_time, read_only, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key.key_id,
                key.account_id,
                key.name,
                key.secret_sha256,
                key.created_time,
                key.expires_time,
                key.read_only,
                key.revoked,
            ],
        )
        await self._db.execute(
            "INSERT INTO identity_api_keys_by_account (account_id, key_id) VALUES (?, ?)",
            [key.account_id, key.key_id],
        )

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        rows = await self._db.execute(
            "SELECT key_id, account_id, name, secret_sha256, created_time, expires_time, "
            "read_only, revoked FROM identity_api_keys WHERE key_id = ?",
            [key_id],
        )
        if not rows:
            return None
        r = rows[0]
        return ApiKey(
            key_id=r.key_id,
            account_id=r.account_id,
            name=r.name or "",
            secret_sha256=bytes(r.secret_sha256),
            created_time=_utc(r.created_time) or _EPOCH,
            expires_time=_utc(r.expires_time),
            read_only=bool(r.read_only),
            revoked=bool(r.revoked),
        )

    async def api_keys_of(self, account_id: str) -> list[ApiKey]:
        rows = await self._db.execute(
            "SELECT key_id FROM identity_api_keys_by_account WHERE account_id = ?", [account_id]
        )
        found = await asyncio.gather(*(self.get_api_key(r.key_id) for r in rows))
        return [k for k in found if k is not None]

    # ------------------------------------------------------------------ unpublished marks

    async def mark_unpublished(self, kind: str, entity_id: str) -> int:
        # microseconds, Cassandra's write-timestamp unit; strictly increasing in this process
        mark = self._last_mark = max(time.time_ns() // 1000, self._last_mark + 1)
        await self._db.execute(
            "INSERT INTO identity_unpublished (shard, entity_kind, entity_id, marked_at) "
            "VALUES (?, ?, ?, ?) USING TIMESTAMP ?",
            [_SHARD, kind, entity_id, mark, mark],
        )
        return mark

    async def clear_unpublished(self, kind: str, entity_id: str, mark: int) -> None:
        await self._db.execute(
            "DELETE FROM identity_unpublished USING TIMESTAMP ? WHERE shard = ? "
            "AND entity_kind = ? AND entity_id = ?",
            [mark, _SHARD, kind, entity_id],
        )

    async def unpublished(self) -> list[tuple[str, str, int]]:
        rows = await self._db.execute(
            "SELECT entity_kind, entity_id, marked_at FROM identity_unpublished WHERE shard = ?",
            [_SHARD],
        )
        return [(r.entity_kind, r.entity_id, r.marked_at or 0) for r in rows]
