"""Fakes for the notification service's unit tests: an in-memory delivery log."""

from __future__ import annotations

from datetime import datetime

from notification.adapters.store import DeliveryRecord
from notification.domain.model import DeliveryKey, Notice, State
from trackstream.notification.v1 import notification_service_pb2 as pb


class FakeStore:
    """The NotificationStore's delivery log, in memory, with the same claim rule."""

    def __init__(self) -> None:
        self.deliveries: dict[DeliveryKey, DeliveryRecord] = {}
        self.open: dict[DeliveryKey, datetime] = {}
        self.claims = 0
        #: what is stored (the dispatcher knows them from memory unless another replica made
        #: them)
        self.subscriptions: dict[str, pb.Subscription] = {}

    async def claim(
        self, key: DeliveryKey, *, account_id: str, state: State, notice: Notice, now: datetime
    ) -> bool:
        self.claims += 1
        if key in self.deliveries:
            return False
        self.deliveries[key] = DeliveryRecord(key, account_id, state, 0, "", now, now, notice)
        if state is State.PENDING:
            self.open[key] = now
        return True

    async def delivery(self, key: DeliveryKey) -> DeliveryRecord | None:
        return self.deliveries.get(key)

    async def close(self, key: DeliveryKey) -> None:
        self.open.pop(key, None)

    async def start_attempt(
        self, key: DeliveryKey, *, attempts: int, lease_until: datetime
    ) -> bool:
        old = self.deliveries[key]
        self.open[key] = lease_until
        if old.attempts != attempts:
            return False
        self.deliveries[key] = DeliveryRecord(
            key,
            old.account_id,
            old.state,
            attempts + 1,
            old.last_error,
            old.next_attempt,
            old.updated,
            old.notice,
        )
        return True

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
        old = self.deliveries[key]
        self.deliveries[key] = DeliveryRecord(
            key, old.account_id, state, attempts, last_error, next_attempt, now, old.notice
        )
        if state in (State.PENDING, State.RETRYING):
            self.open[key] = next_attempt or now
        else:
            self.open.pop(key, None)

    async def open_deliveries(self) -> list[tuple[DeliveryKey, datetime]]:
        return list(self.open.items())

    async def all_subscriptions(self) -> list[pb.Subscription]:
        return list(self.subscriptions.values())

    async def account_subscriptions(self, account_id: str) -> list[pb.Subscription]:
        return [s for s in self.subscriptions.values() if s.account_id == account_id]
