from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from privacy.domain.erasure import Erasure
from privacy.export.source import AccountNotFound
from trackstream.alarm.v1.alarm_pb2 import AlarmRaised, AlarmType
from trackstream.alarm.v1.alarm_service_pb2 import AlarmRecord
from trackstream.alarm.v1.geofence_pb2 import Geofence, Rule
from trackstream.history.v1.history_service_pb2 import TrackPoint
from trackstream.identity.v1.identity_service_pb2 import Account, ApiKey, Device
from trackstream.media.v1.media_pb2 import MediaObject
from trackstream.notification.v1.notification_service_pb2 import (
    Delivery,
    InboxEntry,
    Subscription,
)
from trackstream.privacy.v1.erasure_pb2 import ErasureAcknowledged, ErasureOrdered
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream_events.timestamps import to_timestamp


class FakeLedger:
    """The Ledger's contract in memory (the real one is tested against Cassandra)."""

    def __init__(self) -> None:
        self.rows: dict[str, Erasure] = {}
        self.acks: dict[str, dict[str, ErasureAcknowledged]] = {}
        self.pending_ids: set[str] = set()
        self.completions = 0

    async def create(self, erasure: Erasure) -> bool:
        self.pending_ids.add(erasure.request_id)
        if erasure.request_id in self.rows:
            return False
        assert erasure.order is not None  # stored as bytes, like the real ledger
        order = ErasureOrdered.FromString(erasure.order.SerializeToString())
        self.rows[erasure.request_id] = replace(erasure, acks={}, order=order)
        return True

    async def get(self, request_id: str) -> Erasure | None:
        row = self.rows.get(request_id)
        if row is None:
            return None
        return replace(row, acks=dict(self.acks.get(request_id, {})))

    async def pending(self) -> list[str]:
        return sorted(self.pending_ids)

    async def record_ack(self, ack: ErasureAcknowledged) -> None:
        known = self.acks.setdefault(ack.request_id, {})
        if ack.participant in known and known[ack.participant].attempt > ack.attempt:
            return
        known[ack.participant] = ack

    async def reordered(self, request_id: str, attempt: int, at: datetime) -> None:
        row = self.rows[request_id]
        assert row.order is not None
        row.order.attempt = attempt
        row.last_ordered_at = at

    async def complete(
        self, request_id: str, certificate: bytes, requested_by: str, at: datetime
    ) -> bool:
        row = self.rows[request_id]
        if row.done:
            return False
        self.rows[request_id] = replace(
            row, done=True, certificate=certificate, order=None, requested_by=requested_by
        )
        self.completions += 1
        return True

    async def forget_pending(self, request_id: str) -> None:
        self.pending_ids.discard(request_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


# --- exports: an account held by the services -------------------------------------------

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SECRET = "whsec-do-not-export-0123456789"


def _point(i: int) -> TrackPoint:
    point = TrackPoint(
        fix=Fix(
            fix_time=to_timestamp(T0 + timedelta(seconds=10 * i)),
            latitude=52.5 + i / 1e5,
            longitude=13.4 - i / 1e5,
            speed_kmh=float(i % 90),
            valid=True,
        ),
        message_serial=i % 65536,
        address="Unter den Linden, Berlin" if i == 0 else "",
    )
    if i % 2:
        point.ignition = True
    return point


class FakeData:
    """An account ``acc-a`` with two devices, and a device of someone else that the registry
    view wrongly lists for it (the builder must keep only the devices the account owns)."""

    def __init__(self, *, positions: int = 25, page: int = 10) -> None:
        self.positions_per_device = positions
        self.page = page
        self.pages_read = 0
        self.devices_by_id = {
            "dev-a1": Device(device_id="dev-a1", owner_account_id="acc-a", name="Anna's car"),
            "dev-a2": Device(device_id="dev-a2", owner_account_id="acc-a", identifier="8612"),
            "dev-b1": Device(device_id="dev-b1", owner_account_id="acc-b", name="Bob's van"),
        }

    async def account(self, account_id: str) -> Account:
        if account_id != "acc-a":
            raise AccountNotFound(account_id)
        return Account(account_id="acc-a", email="anna@example.org", display_name="Anna")

    async def api_keys(self, account_id: str) -> Sequence[ApiKey]:
        return [ApiKey(key_id="key1", account_id=account_id, name="erp-sync")]

    async def devices(self, device_ids: Sequence[str]) -> Sequence[Device]:
        return [self.devices_by_id[d] for d in device_ids if d in self.devices_by_id]

    async def positions(self, device_id: str) -> AsyncIterator[Sequence[TrackPoint]]:
        points = [_point(i) for i in range(self.positions_per_device)]
        for i in range(0, len(points), self.page):
            self.pages_read += 1
            yield points[i : i + self.page]

    async def alarms(self, device_id: str) -> AsyncIterator[Sequence[AlarmRecord]]:
        yield [
            AlarmRecord(
                alarm=AlarmRaised(
                    alarm_id=f"alarm-{device_id}",
                    device_id=device_id,
                    type=AlarmType.ALARM_TYPE_SOS,
                    alarm_time=to_timestamp(T0),
                    fix=Fix(latitude=52.5, longitude=13.4),
                    details={"speed_kmh": "42"},
                ),
                acknowledged_by="acc-a",
                note="called, all fine",
            )
        ]

    async def media(self, device_id: str) -> AsyncIterator[Sequence[MediaObject]]:
        if device_id == "dev-a1":
            yield [
                MediaObject(
                    media_id="m1",
                    device_id=device_id,
                    content_type="image/jpeg",
                    object_key="dev-a1/2026/03/01/http-abc.jpg",
                )
            ]

    async def media_content(self, device_id: str, media_id: str) -> AsyncIterator[bytes]:
        yield b"\xff\xd8\xff" + b"jpeg" * 1000
        yield b"\xff\xd9"

    async def geofences(self, account_id: str) -> Sequence[Geofence]:
        return [Geofence(geofence_id="home", account_id=account_id, name="Home")]

    async def rules(self, account_id: str) -> Sequence[Rule]:
        return [Rule(rule_id="r1", account_id=account_id)]

    async def subscriptions(self, account_id: str) -> Sequence[Subscription]:
        return [
            Subscription(
                subscription_id="s1",
                account_id=account_id,
                webhook_url="https://hooks.example.org/in",
                webhook_secret=SECRET,
                email_addresses=["anna@example.org"],
            )
        ]

    async def deliveries(self, account_id: str) -> Sequence[Delivery]:
        return [Delivery(alarm_id="alarm-dev-a1", subscription_id="s1", account_id=account_id)]

    async def inbox(self, account_id: str) -> Sequence[InboxEntry]:
        return [InboxEntry(notification_id="n1", title="SOS", body="Anna's car: SOS")]
