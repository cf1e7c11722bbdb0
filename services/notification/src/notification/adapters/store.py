"""Cassandra: subscriptions, the delivery log (claimed with LWT), open deliveries, the inbox."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from notification.domain.model import Channel, DeliveryKey, Notice, State
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream_cassandra import CassandraStore

#: the open-deliveries work list is one partition (shard 0); it holds only unfinished deliveries
OPEN_SHARD = 0


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    key: DeliveryKey
    account_id: str
    state: State
    attempts: int
    last_error: str
    next_attempt: datetime | None
    updated: datetime | None
    notice: Notice


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _notice_bytes(notice: Notice) -> bytes:
    return json.dumps(
        {"title": notice.title, "body": notice.body, "document": notice.document},
        separators=(",", ":"),
    ).encode()


def _notice_of(data: bytes | None) -> Notice:
    raw = json.loads(data or b"{}")
    return Notice(
        title=str(raw.get("title", "")),
        body=str(raw.get("body", "")),
        document=raw.get("document", {}),
    )


class NotificationStore:
    def __init__(self, cassandra: CassandraStore) -> None:
        self._db = cassandra

    # --- subscriptions -------------------------------------------------------------------

    async def put_subscription(self, subscription: pb.Subscription) -> None:
        await self._db.execute(
            "INSERT INTO notification_subscriptions (account_id, subscription_id, subscription) "
            "VALUES (?, ?, ?)",
            (
                subscription.account_id,
                subscription.subscription_id,
                subscription.SerializeToString(),
            ),
        )

    async def delete_subscription(self, account_id: str, subscription_id: str) -> None:
        await self._db.execute(
            "DELETE FROM notification_subscriptions WHERE account_id = ? AND subscription_id = ?",
            (account_id, subscription_id),
        )

    async def account_subscriptions(self, account_id: str) -> list[pb.Subscription]:
        rows = await self._db.execute(
            "SELECT subscription FROM notification_subscriptions WHERE account_id = ?",
            (account_id,),
        )
        return [pb.Subscription.FromString(row.subscription) for row in rows]

    async def all_subscriptions(self) -> list[pb.Subscription]:
        rows = await self._db.execute("SELECT subscription FROM notification_subscriptions")
        return [pb.Subscription.FromString(row.subscription) for row in rows]

    # --- the delivery log ----------------------------------------------------------------

    async def claim(
        self, key: DeliveryKey, *, account_id: str, state: State, notice: Notice, now: datetime
    ) -> bool:
        """Claim the delivery: True only for the first claim of this key, ever. The account
        index and the work-list row go first, so a crash after the claim loses nothing (the
        sweeper drops work-list rows of deliveries that are already finished)."""
        index = self._db.execute(
            "INSERT INTO notification_deliveries_by_account "
            "(account_id, alarm_id, subscription_id, channel) VALUES (?, ?, ?, ?)",
            (account_id, key.alarm_id, key.subscription_id, int(key.channel)),
        )
        if state is State.PENDING:
            await asyncio.gather(index, self._open(key, now))  # independent: one round trip
        else:
            await index
        rows = await self._db.execute(
            "INSERT INTO notification_deliveries (alarm_id, subscription_id, channel, account_id, "
            "state, attempts, last_error, next_attempt, updated, message) "
            "VALUES (?, ?, ?, ?, ?, 0, '', ?, ?, ?) IF NOT EXISTS",
            (
                key.alarm_id,
                key.subscription_id,
                int(key.channel),
                account_id,
                int(state),
                now,
                now,
                _notice_bytes(notice),
            ),
        )
        answer = rows[0]
        if answer[0]:
            return True
        # claimed before: the work-list row written above must not move the existing
        # delivery's schedule (a replay must not hurry a retry) nor reopen a finished one
        existing = State(answer.state)
        if existing in (State.PENDING, State.RETRYING):
            await self._open(key, _aware(answer.next_attempt) or now)
        elif state is State.PENDING:
            await self.close(key)
        return False

    async def _open(self, key: DeliveryKey, next_attempt: datetime) -> None:
        await self._db.execute(
            "INSERT INTO notification_open_deliveries "
            "(shard, alarm_id, subscription_id, channel, next_attempt) VALUES (?, ?, ?, ?, ?)",
            (OPEN_SHARD, key.alarm_id, key.subscription_id, int(key.channel), next_attempt),
        )

    async def close(self, key: DeliveryKey) -> None:
        await self._db.execute(
            "DELETE FROM notification_open_deliveries "
            "WHERE shard = ? AND alarm_id = ? AND subscription_id = ? AND channel = ?",
            (OPEN_SHARD, key.alarm_id, key.subscription_id, int(key.channel)),
        )

    async def start_attempt(
        self, key: DeliveryKey, *, attempts: int, lease_until: datetime
    ) -> bool:
        """Take the next attempt: True for exactly one taker of attempt ``attempts + 1``
        (compare-and-set on the attempt count). The work-list row moves to the end of the
        lease first, so no sweeper (of this or another replica) picks it while it is sent."""
        await self._open(key, lease_until)
        rows = await self._db.execute(
            "UPDATE notification_deliveries SET attempts = ? "
            "WHERE alarm_id = ? AND subscription_id = ? AND channel = ? IF attempts = ?",
            (attempts + 1, key.alarm_id, key.subscription_id, int(key.channel), attempts),
        )
        return bool(rows[0][0])

    async def record_outcome(
        self,
        key: DeliveryKey,
        *,
        state: State,
        attempts: int,
        last_error: str,
        next_attempt: datetime | None,
        now: datetime,
    ) -> None:
        """The result of a try: finished deliveries leave the work list, retries stay with
        their due time (durable: the sweeper finds them after a restart)."""
        if state in (State.PENDING, State.RETRYING):
            await self._open(key, next_attempt or now)
        await self._db.execute(
            "UPDATE notification_deliveries SET state = ?, attempts = ?, last_error = ?, "
            "next_attempt = ?, updated = ? "
            "WHERE alarm_id = ? AND subscription_id = ? AND channel = ?",
            (
                int(state),
                attempts,
                last_error,
                next_attempt,
                now,
                key.alarm_id,
                key.subscription_id,
                int(key.channel),
            ),
        )
        if state not in (State.PENDING, State.RETRYING):
            await self.close(key)

    async def delivery(self, key: DeliveryKey) -> DeliveryRecord | None:
        rows = await self._db.execute(
            "SELECT account_id, state, attempts, last_error, next_attempt, updated, message "
            "FROM notification_deliveries "
            "WHERE alarm_id = ? AND subscription_id = ? AND channel = ?",
            (key.alarm_id, key.subscription_id, int(key.channel)),
        )
        if not rows:
            return None
        row = rows[0]
        return DeliveryRecord(
            key=key,
            account_id=row.account_id,
            state=State(row.state),
            attempts=row.attempts or 0,
            last_error=row.last_error or "",
            next_attempt=_aware(row.next_attempt),
            updated=_aware(row.updated),
            notice=_notice_of(row.message),
        )

    async def account_deliveries(self, account_id: str) -> list[DeliveryRecord]:
        rows = await self._db.execute(
            "SELECT alarm_id, subscription_id, channel FROM notification_deliveries_by_account "
            "WHERE account_id = ?",
            (account_id,),
        )
        keys = [DeliveryKey(r.alarm_id, r.subscription_id, Channel(r.channel)) for r in rows]
        found = await asyncio.gather(*(self.delivery(k) for k in keys))
        return [d for d in found if d is not None]

    async def open_deliveries(self) -> list[tuple[DeliveryKey, datetime]]:
        rows = await self._db.execute(
            "SELECT alarm_id, subscription_id, channel, next_attempt "
            "FROM notification_open_deliveries WHERE shard = ?",
            (OPEN_SHARD,),
        )
        return [
            (
                DeliveryKey(r.alarm_id, r.subscription_id, Channel(r.channel)),
                r.next_attempt.replace(tzinfo=UTC),
            )
            for r in rows
        ]

    # --- the in-app inbox ----------------------------------------------------------------

    async def add_to_inbox(
        self,
        *,
        account_id: str,
        notification_id: str,
        created: datetime,
        alarm_id: str,
        subscription_id: str,
        title: str,
        body: str,
    ) -> None:
        """Idempotent: the id and time are those of the delivery, a retry rewrites the row."""
        await self._db.execute(
            "INSERT INTO notification_inbox (account_id, created, notification_id, alarm_id, "
            "subscription_id, title, body, read) VALUES (?, ?, ?, ?, ?, ?, ?, false)",
            (account_id, created, notification_id, alarm_id, subscription_id, title, body),
        )
        await self._db.execute(
            "INSERT INTO notification_inbox_by_id (account_id, notification_id, created) "
            "VALUES (?, ?, ?)",
            (account_id, notification_id, created),
        )

    async def inbox(self, account_id: str, *, unread_only: bool) -> list[pb.InboxEntry]:
        rows = await self._db.execute(
            "SELECT created, notification_id, alarm_id, subscription_id, title, body, read "
            "FROM notification_inbox WHERE account_id = ?",
            (account_id,),
        )
        entries = []
        for row in rows:
            if unread_only and row.read:
                continue
            entry = pb.InboxEntry(
                notification_id=row.notification_id,
                alarm_id=row.alarm_id,
                subscription_id=row.subscription_id,
                title=row.title,
                body=row.body,
                read=bool(row.read),
            )
            entry.created_time.FromDatetime(row.created.replace(tzinfo=UTC))
            entries.append(entry)
        return entries

    async def mark_read(self, account_id: str, notification_ids: list[str], *, read: bool) -> bool:
        """Mark the entries read (or unread); False, changing nothing, when one of the ids is
        not in the account's inbox."""
        found = await asyncio.gather(
            *(
                self._db.execute(
                    "SELECT created FROM notification_inbox_by_id "
                    "WHERE account_id = ? AND notification_id = ?",
                    (account_id, notification_id),
                )
                for notification_id in notification_ids
            )
        )
        if not all(found):
            return False
        await asyncio.gather(
            *(
                self._db.execute(
                    "UPDATE notification_inbox SET read = ? "
                    "WHERE account_id = ? AND created = ? AND notification_id = ?",
                    (read, account_id, rows[0].created, notification_id),
                )
                for notification_id, rows in zip(notification_ids, found, strict=True)
            )
        )
        return True

    # --- erasure -------------------------------------------------------------------------

    async def erase_account(self, account_id: str) -> tuple[int, int, int]:
        """Subscriptions (with their secrets, addresses, tokens), the delivery log and the
        inbox of the account. Idempotent: a second call finds nothing and erases nothing."""
        subscriptions = await self.account_subscriptions(account_id)
        deliveries = await self._db.execute(
            "SELECT alarm_id, subscription_id, channel FROM notification_deliveries_by_account "
            "WHERE account_id = ?",
            (account_id,),
        )
        inbox = await self._db.execute(
            "SELECT notification_id FROM notification_inbox_by_id WHERE account_id = ?",
            (account_id,),
        )
        for row in deliveries:
            key = DeliveryKey(row.alarm_id, row.subscription_id, Channel(row.channel))
            await self.close(key)
            await self._db.execute(
                "DELETE FROM notification_deliveries "
                "WHERE alarm_id = ? AND subscription_id = ? AND channel = ?",
                (key.alarm_id, key.subscription_id, int(key.channel)),
            )
        for cql in (
            "DELETE FROM notification_deliveries_by_account WHERE account_id = ?",
            "DELETE FROM notification_inbox WHERE account_id = ?",
            "DELETE FROM notification_inbox_by_id WHERE account_id = ?",
            "DELETE FROM notification_subscriptions WHERE account_id = ?",
        ):
            await self._db.execute(cql, (account_id,))
        return len(subscriptions), len(deliveries), len(inbox)
