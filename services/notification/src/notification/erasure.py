"""Notification's part in an erasure (docs/architecture.md, "Erasure").

* An erased account: :meth:`NotificationStore.erase_account` (what the ``EraseAccount`` rpc
  runs: its subscriptions with their addresses, secrets and tokens, its delivery log and its
  inbox), and its subscriptions leave the in-memory set at once.
* An erased device: what other accounts hold about it. The rows are per account and per
  alarm, not per device, but each delivery stores the notice it sent, whose document names the
  device (``device_id``), and each inbox entry belongs to one delivery (alarm, subscription).
  So for every account whose subscriptions can cover the device (naming it, or naming no
  device: account- and group-wide), the deliveries about the device are deleted (log, account
  index, work list) and the inbox entries of those deliveries too; that reads the accounts'
  own partitions, never a table scan.
* A subscription of another account that names an erased device (or an erased account as a
  group) is rewritten without it; one left naming nothing is deleted, since an empty list means
  "every device of the account".

Idempotent: a second run finds nothing and counts 0. The in-app notifications already
published on ``notification.inbox.v1`` (delete policy) age out with its retention.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from notification.adapters.store import OPEN_SHARD, NotificationStore
from notification.domain.model import Channel, DeliveryKey
from notification.handlers import Subscriptions
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_cassandra import CassandraStore
from trackstream_kafka.erasure import cassandra_rows_erased

PARTICIPANT = "notification"
SUBSCRIPTIONS = "notification_subscriptions"
DELIVERIES = "notification_deliveries"
BY_ACCOUNT = "notification_deliveries_by_account"
OPEN = "notification_open_deliveries"
INBOX = "notification_inbox"
INBOX_BY_ID = "notification_inbox_by_id"
TABLES = (SUBSCRIPTIONS, DELIVERIES, BY_ACCOUNT, OPEN, INBOX, INBOX_BY_ID)


@dataclass
class _Counts:
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))

    def add(self, table: str, n: int = 1) -> None:
        self.rows[table] += n


class NotificationErasure:
    def __init__(
        self,
        *,
        store: NotificationStore,
        cassandra: CassandraStore,
        subscriptions: Subscriptions,
        forget_rate: Callable[[str], None],
    ) -> None:
        self._store = store
        self._db = cassandra
        self._subscriptions = subscriptions
        self._forget_rate = forget_rate

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        counts = _Counts()
        accounts = set(order.account_ids)
        devices = set(order.device_ids)
        for account_id in sorted(accounts):
            await self._erase_account(account_id, counts)
        if devices:
            await self._erase_about_devices(devices, accounts, counts)
        if devices or accounts:
            await self._narrow_subscriptions(devices, accounts, counts)
        return [
            cassandra_rows_erased(
                table, n, gc_grace_s=await self._db.gc_grace_seconds(table), mechanism="row-delete"
            )
            for table, n in counts.rows.items()
        ]

    async def _open_rows(self, keys: list[DeliveryKey]) -> int:
        found = 0
        for key in keys:
            found += bool(
                await self._db.execute(
                    f"SELECT alarm_id FROM {OPEN} WHERE shard = ? AND alarm_id = ? "
                    "AND subscription_id = ? AND channel = ?",
                    (OPEN_SHARD, key.alarm_id, key.subscription_id, int(key.channel)),
                )
            )
        return found

    async def _erase_account(self, account_id: str, counts: _Counts) -> None:
        for subscription in self._subscriptions.all():
            if subscription.account_id == account_id:
                self._subscriptions.remove(subscription.subscription_id)
                self._forget_rate(subscription.subscription_id)
        indexed = await self._db.execute(
            f"SELECT alarm_id, subscription_id, channel FROM {BY_ACCOUNT} WHERE account_id = ?",
            (account_id,),
        )
        keys = [DeliveryKey(r.alarm_id, r.subscription_id, Channel(r.channel)) for r in indexed]
        counts.add(OPEN, await self._open_rows(keys))
        subscriptions, deliveries, inbox = await self._store.erase_account(account_id)
        counts.add(SUBSCRIPTIONS, subscriptions)
        counts.add(DELIVERIES, deliveries)
        counts.add(BY_ACCOUNT, deliveries)
        counts.add(INBOX, inbox)
        counts.add(INBOX_BY_ID, inbox)

    async def _erase_about_devices(
        self, devices: set[str], erased_accounts: set[str], counts: _Counts
    ) -> None:
        covering = sorted(
            {
                s.account_id
                for s in self._subscriptions.all()
                if s.account_id not in erased_accounts
                and (not s.device_ids or devices & set(s.device_ids))
            }
        )
        for account_id in covering:
            about = [
                d
                for d in await self._store.account_deliveries(account_id)
                if d.notice.document.get("device_id") in devices
            ]
            counts.add(OPEN, await self._open_rows([d.key for d in about]))
            for delivery in about:
                key = delivery.key
                await self._store.close(key)
                await self._db.execute(
                    f"DELETE FROM {DELIVERIES} "
                    "WHERE alarm_id = ? AND subscription_id = ? AND channel = ?",
                    (key.alarm_id, key.subscription_id, int(key.channel)),
                )
                await self._db.execute(
                    f"DELETE FROM {BY_ACCOUNT} WHERE account_id = ? AND alarm_id = ? "
                    "AND subscription_id = ? AND channel = ?",
                    (account_id, key.alarm_id, key.subscription_id, int(key.channel)),
                )
            counts.add(DELIVERIES, len(about))
            counts.add(BY_ACCOUNT, len(about))
            sent = {(d.key.alarm_id, d.key.subscription_id) for d in about}
            for entry in await self._store.inbox(account_id, unread_only=False):
                if (entry.alarm_id, entry.subscription_id) not in sent:
                    continue
                await self._db.execute(
                    f"DELETE FROM {INBOX} WHERE account_id = ? AND created = ? "
                    "AND notification_id = ?",
                    (account_id, entry.created_time.ToDatetime(), entry.notification_id),
                )
                await self._db.execute(
                    f"DELETE FROM {INBOX_BY_ID} WHERE account_id = ? AND notification_id = ?",
                    (account_id, entry.notification_id),
                )
                counts.add(INBOX)
                counts.add(INBOX_BY_ID)

    async def _narrow_subscriptions(
        self, devices: set[str], accounts: set[str], counts: _Counts
    ) -> None:
        for subscription in self._subscriptions.all():
            named_devices = devices & set(subscription.device_ids)
            named_groups = accounts & set(subscription.group_account_ids)
            if not (named_devices or named_groups):
                continue
            narrowed = pb.Subscription()
            narrowed.CopyFrom(subscription)
            del narrowed.device_ids[:]
            narrowed.device_ids.extend(d for d in subscription.device_ids if d not in devices)
            del narrowed.group_account_ids[:]
            narrowed.group_account_ids.extend(
                a for a in subscription.group_account_ids if a not in accounts
            )
            if narrowed.device_ids or narrowed.group_account_ids:
                await self._store.put_subscription(narrowed)
                self._subscriptions.put(narrowed)
            else:  # it covered only what is erased: empty lists would mean "everything"
                await self._store.delete_subscription(
                    subscription.account_id, subscription.subscription_id
                )
                self._subscriptions.remove(subscription.subscription_id)
                self._forget_rate(subscription.subscription_id)
            counts.add(SUBSCRIPTIONS)
