"""The position writer: plausibility flags on the way in, and a store outage that pauses
consumption (RetryableError, health down) instead of losing or dead-lettering anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from cassandra.cluster import NoHostAvailable
from google.protobuf.timestamp_pb2 import Timestamp

from history.domain.model import TrackPoint
from history.handlers import PositionWriter, StoreHealth
from trackstream.identity.v1.accounts_pb2 import AccountChanged, AccountRetention
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_kafka import ConsumedEvent, RetryableError


class FakeStore:
    def __init__(self) -> None:
        self.rows: list[TrackPoint] = []
        self.ttls: dict[str, int] = {}
        self.down = False

    async def write(
        self, points: Sequence[TrackPoint], ttl_seconds: Mapping[str, int] | None = None
    ) -> None:
        if self.down:
            raise NoHostAvailable("all hosts down", {})
        self.rows += points
        self.ttls.update(ttl_seconds or {})


def consumed(device: str, when: datetime, serial: int, lat: float = 41.0) -> ConsumedEvent:
    ts = Timestamp()
    ts.FromDatetime(when)
    event = PositionReported(
        device_id=device,
        fix=Fix(fix_time=ts, latitude=lat, longitude=29.0, speed_kmh=20.0, valid=True),
        origin=Origin(message_serial=serial),
    )
    envelope = Envelope(
        type="trackstream.tracking.v1.PositionReported", source="/t", subject=device
    )
    return ConsumedEvent(envelope, event, device, "tracking.positions.v1", 0, serial)


async def test_points_are_flagged_not_dropped() -> None:
    store, health = FakeStore(), StoreHealth()
    now = datetime.now(UTC)
    await PositionWriter(store, health).handle(
        [
            consumed("d", now - timedelta(minutes=2), 1),
            consumed("d", now - timedelta(minutes=1), 2, lat=0.0),
            consumed("d", now + timedelta(days=2), 3),
        ]
    )
    # (0, 29) a minute after (41, 29): 4,500 km in a minute
    assert {p.message_serial: p.flagged for p in store.rows} == {1: None, 2: "speed", 3: "future"}


async def test_a_store_outage_pauses_consumption_and_reports_it_until_writes_succeed() -> None:
    store, health = FakeStore(), StoreHealth()
    writer = PositionWriter(store, health)
    store.down = True
    with pytest.raises(RetryableError):
        await writer.handle([consumed("d", datetime.now(UTC), 1)])
    assert health.healthy is False and store.rows == []
    store.down = False
    await writer.handle([consumed("d", datetime.now(UTC), 1)])
    assert health.healthy is True and len(store.rows) == 1


async def test_each_device_gets_its_accounts_retention() -> None:
    accounts = {
        "acct-short": AccountChanged(retention=AccountRetention(positions_days=7)),
        "acct-child": AccountChanged(ancestor_account_ids=["acct-short"]),
        "acct-media": AccountChanged(retention=AccountRetention(media_days=3)),
    }
    policy = AccountRetentionPolicy(DataKind.POSITIONS, 365, lookup=accounts.get)
    owners = {"short": "acct-short", "child": "acct-child", "media": "acct-media"}
    store = FakeStore()
    writer = PositionWriter(
        store, StoreHealth(), lambda device: policy.ttl_seconds(owners.get(device))
    )
    now = datetime.now(UTC)
    await writer.handle([consumed(d, now, 1) for d in ("short", "child", "media", "unregistered")])
    assert store.ttls == {
        "short": 7 * 86_400,
        "child": 7 * 86_400,  # inherited from its parent
        "media": 365 * 86_400,  # sets media only: positions take the platform default
        "unregistered": 365 * 86_400,
    }
