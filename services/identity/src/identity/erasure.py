"""Identity's part in an erasure (docs/architecture.md, "Erasure").

An account goes whole: its profile, its e-mail index entry, its link under its parent (and its
own list of children), its sessions (every refresh-token generation), its API keys, the share
links it made, its unpublished marks; a device shared with it (not one it owns: those are in
the order's ``device_ids``) is only unshared, and republished. Every device of the order goes
with its identifier index entry (so the same IMEI registered again gets a new device id) and
the share links that show it.

Steps, each idempotent, in an order that survives a crash at any point:

1. find everything (by key, by the ``*_by_account`` partitions, and by the secondary indexes
   of migration 0010 — never a scan);
2. tombstone the compacted topics: ``identity.accounts.v1`` and
   ``identity.device-registry.v1`` first (the gateway stops answering for the account and
   ingest drops the device at once: sessions of an erased account stop working with the
   account), then ``identity.api-keys.v1`` (keys stop working) and
   ``identity.revocations.v1`` (the revocation records carry the account id);
3. delete the rows, the entities' own rows last (they are what step 1 starts from), so a
   re-sent order after a crash finds what is left and finishes it.

A second run finds nothing, writes no tombstone and counts 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from identity.domain import rules
from identity.domain.errors import NotFound
from identity.handlers import (
    ACCOUNT,
    ACCOUNTS_TOPIC,
    API_KEY,
    API_KEYS_TOPIC,
    DEVICE,
    REGISTRY_TOPIC,
    REVOCATIONS_TOPIC,
    SESSION,
    SHARE_LINK,
    Identity,
)
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_cassandra import CassandraStore
from trackstream_kafka import EventPublisher
from trackstream_kafka.erasure import cassandra_rows_erased, tombstone_keys

PARTICIPANT = "identity"
TABLES = (
    "identity_accounts",
    "identity_accounts_by_email",
    "identity_sub_accounts",
    "identity_devices",
    "identity_devices_by_identifier",
    "identity_sessions",
    "identity_sessions_by_refresh",
    "identity_sessions_by_account",
    "identity_share_links",
    "identity_api_keys",
    "identity_api_keys_by_account",
    "identity_unpublished",
)
TOPICS = (ACCOUNTS_TOPIC, REGISTRY_TOPIC, REVOCATIONS_TOPIC, API_KEYS_TOPIC)
#: passes over an order at most (each finds what calls running alongside wrote meanwhile)
MAX_PASSES = 3
#: the shard of identity_unpublished (CassandraIdentityStore writes every mark there)
_SHARD = 0


@dataclass
class _Plan:
    """What one order erases: the deletes to run, and the keys to tombstone per topic."""

    deletes: list[tuple[str, str, Sequence[Any]]] = field(default_factory=list)
    last: list[tuple[str, str, Sequence[Any]]] = field(default_factory=list)
    tombstones: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TOPICS})
    unshares: list[tuple[str, str]] = field(default_factory=list)

    def delete(self, table: str, where: str, params: Sequence[Any], *, last: bool = False) -> None:
        (self.last if last else self.deletes).append((table, where, params))


class IdentityErasure:
    def __init__(
        self, identity: Identity, cassandra: CassandraStore, publisher: EventPublisher
    ) -> None:
        self._identity = identity
        self._db = cassandra
        self._publisher = publisher

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        devices = list(dict.fromkeys(order.device_ids))
        accounts = list(dict.fromkeys(order.account_ids))
        counts = dict.fromkeys(TABLES, 0)
        kafka = {t: StoreErased() for t in TOPICS}
        # a call that ran alongside (a login, a new key) may have written after the first
        # pass looked: passes repeat until one finds nothing (the account and its e-mail
        # entry are gone by then, so nothing new can start)
        for _ in range(MAX_PASSES):
            if not await self._erase_once(devices, accounts, counts, kafka):
                break
        cassandra = [
            cassandra_rows_erased(t, n, gc_grace_s=await self._db.gc_grace_seconds(t))
            for t, n in counts.items()
        ]
        return [*cassandra, *kafka.values()]

    async def _erase_once(
        self,
        devices: list[str],
        accounts: list[str],
        counts: dict[str, int],
        kafka: dict[str, StoreErased],
    ) -> bool:
        """One pass; whether it found anything."""
        plan = _Plan()
        for account_id in accounts:
            await self._plan_account(plan, account_id, set(devices))
        for device_id in devices:
            await self._plan_device(plan, device_id)
        # 2: tombstones, the accounts and devices first
        for topic in TOPICS:
            written = await tombstone_keys(self._publisher, topic, plan.tombstones[topic])
            if not kafka[topic].store:
                kafka[topic] = written
            elif written.deleted:  # a later pass adds its tombstones and the later bound
                kafka[topic].deleted += written.deleted
                kafka[topic].tombstones.extend(written.tombstones)
                kafka[topic].physically_gone_by.CopyFrom(written.physically_gone_by)
        # a shared device stays, without the share (republished by the usual path)
        for device_id, account_id in plan.unshares:
            try:
                await self._identity.unshare_device(device_id=device_id, account_id=account_id)
            except NotFound:
                continue  # the device went meanwhile: nothing to unshare
            counts["identity_devices"] += 1
        # 3: the rows, the entities' own rows last
        for table, where, params in [*plan.deletes, *plan.last]:
            await self._db.execute(f"DELETE FROM {table} WHERE {where}", params)
            counts[table] += 1
        return bool(plan.deletes or plan.last or plan.unshares or any(plan.tombstones.values()))

    async def _rows(self, cql: str, *params: Any) -> list[Any]:
        return await self._db.execute(cql, params)

    async def _plan_marks(self, plan: _Plan, kind: str, entity_id: str) -> None:
        found = await self._rows(
            "SELECT entity_id FROM identity_unpublished "
            "WHERE shard = ? AND entity_kind = ? AND entity_id = ?",
            _SHARD,
            kind,
            entity_id,
        )
        if found:
            plan.delete(
                "identity_unpublished",
                "shard = ? AND entity_kind = ? AND entity_id = ?",
                (_SHARD, kind, entity_id),
            )

    async def _plan_links(self, plan: _Plan, column: str, value: str) -> None:
        for row in await self._rows(
            f"SELECT link_id FROM identity_share_links WHERE {column} = ?", value
        ):
            if row.link_id in plan.tombstones[REVOCATIONS_TOPIC]:
                continue  # made by an erased account for an erased device: once
            plan.tombstones[REVOCATIONS_TOPIC].append(row.link_id)
            plan.delete("identity_share_links", "link_id = ?", (row.link_id,))
            await self._plan_marks(plan, SHARE_LINK, row.link_id)

    async def _plan_account(self, plan: _Plan, account_id: str, erased_devices: set[str]) -> None:
        rows = await self._rows(
            "SELECT account_id, parent_account_id, email FROM identity_accounts "
            "WHERE account_id = ?",
            account_id,
        )
        if rows:
            account = rows[0]
            plan.tombstones[ACCOUNTS_TOPIC].append(account_id)
            if account.email:
                email_hmac = self._identity._email_hmac(rules.normalise_email(account.email))
                holder = await self._rows(
                    "SELECT account_id FROM identity_accounts_by_email WHERE email_hmac = ?",
                    email_hmac,
                )
                if holder and holder[0].account_id == account_id:
                    plan.delete("identity_accounts_by_email", "email_hmac = ?", (email_hmac,))
            if account.parent_account_id:
                link = await self._rows(
                    "SELECT account_id FROM identity_sub_accounts "
                    "WHERE parent_account_id = ? AND account_id = ?",
                    account.parent_account_id,
                    account_id,
                )
                if link:
                    plan.delete(
                        "identity_sub_accounts",
                        "parent_account_id = ? AND account_id = ?",
                        (account.parent_account_id, account_id),
                    )
            plan.delete("identity_accounts", "account_id = ?", (account_id,), last=True)
        if await self._rows(
            "SELECT account_id FROM identity_sub_accounts WHERE parent_account_id = ? LIMIT 1",
            account_id,
        ):
            plan.delete("identity_sub_accounts", "parent_account_id = ?", (account_id,))
        await self._plan_marks(plan, ACCOUNT, account_id)
        await self._plan_sessions(plan, account_id)
        await self._plan_api_keys(plan, account_id)
        await self._plan_links(plan, "account_id", account_id)
        for row in await self._rows(
            "SELECT device_id FROM identity_devices WHERE shares CONTAINS KEY ?", account_id
        ):
            if row.device_id not in erased_devices:
                plan.unshares.append((row.device_id, account_id))

    async def _plan_sessions(self, plan: _Plan, account_id: str) -> None:
        sessions = await self._rows(
            "SELECT session_id FROM identity_sessions_by_account WHERE account_id = ?", account_id
        )
        for row in sessions:
            session_id = row.session_id
            plan.delete(
                "identity_sessions_by_account",
                "account_id = ? AND session_id = ?",
                (account_id, session_id),
                last=True,
            )
            for refresh in await self._rows(
                "SELECT refresh_sha256 FROM identity_sessions_by_refresh WHERE session_id = ?",
                session_id,
            ):
                plan.delete(
                    "identity_sessions_by_refresh", "refresh_sha256 = ?", (refresh.refresh_sha256,)
                )
            if await self._rows(
                "SELECT session_id FROM identity_sessions WHERE session_id = ?", session_id
            ):
                plan.tombstones[REVOCATIONS_TOPIC].append(session_id)
                plan.delete("identity_sessions", "session_id = ?", (session_id,))
            await self._plan_marks(plan, SESSION, session_id)

    async def _plan_api_keys(self, plan: _Plan, account_id: str) -> None:
        keys = await self._rows(
            "SELECT key_id FROM identity_api_keys_by_account WHERE account_id = ?", account_id
        )
        for row in keys:
            plan.delete(
                "identity_api_keys_by_account",
                "account_id = ? AND key_id = ?",
                (account_id, row.key_id),
                last=True,
            )
            if await self._rows(
                "SELECT key_id FROM identity_api_keys WHERE key_id = ?", row.key_id
            ):
                plan.tombstones[API_KEYS_TOPIC].append(row.key_id)
                plan.delete("identity_api_keys", "key_id = ?", (row.key_id,))
            await self._plan_marks(plan, API_KEY, row.key_id)

    async def _plan_device(self, plan: _Plan, device_id: str) -> None:
        rows = await self._rows(
            "SELECT identifier_hmac FROM identity_devices WHERE device_id = ?", device_id
        )
        await self._plan_links(plan, "device_id", device_id)
        await self._plan_marks(plan, DEVICE, device_id)
        if not rows:
            return
        plan.tombstones[REGISTRY_TOPIC].append(device_id)
        identifier_hmac = rows[0].identifier_hmac
        if identifier_hmac is not None:
            holder = await self._rows(
                "SELECT device_id FROM identity_devices_by_identifier WHERE identifier_hmac = ?",
                identifier_hmac,
            )
            if holder and holder[0].device_id == device_id:
                plan.delete(
                    "identity_devices_by_identifier", "identifier_hmac = ?", (identifier_hmac,)
                )
        plan.delete("identity_devices", "device_id = ?", (device_id,), last=True)
