"""Retention per account on the real stack: history reads each account's retention from
identity.accounts.v1 (the device's account from identity.device-registry.v1); every stored row
carries it as a Cassandra TTL, and shortening it sweeps the days already stored that are older,
of that account only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.history.tests.integration.conftest import (
    DAY,
    StartHistory,
    position,
    track,
    wait_for_points,
)
from services.history.tests.integration.test_history_store import publish
from services.history.tests.unit.test_writer import consumed
from tests.integration.helpers import publish_accounts, until
from trackstream.identity.v1.accounts_pb2 import AccountRetention
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_cassandra import CassandraSettings, connect
from trackstream_kafka import EventPublisher, KafkaSettings


async def _register(devices: dict[str, str]) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        for device, account in devices.items():
            await publisher.publish(
                "identity.device-registry.v1",
                DeviceRegistered(
                    device_id=device, identifier_hmac=uuid.uuid4().bytes, owner_account_id=account
                ),
                key=device,
            )
    finally:
        await publisher.stop()


def _ttl(device: str, fix_time: datetime) -> int | None:
    settings = CassandraSettings()
    session = connect(settings, keyspace=settings.keyspace)
    try:
        row = session.execute(
            "SELECT TTL(latitude) AS ttl FROM positions_by_device_day "
            "WHERE device_id = %s AND day = %s AND fix_time = %s",
            (device, fix_time.date(), fix_time),
        ).one()
        return None if row is None else row.ttl
    finally:
        session.cluster.shutdown()


async def test_rows_expire_with_their_accounts_retention_and_a_shorter_one_sweeps_older_days(
    start_history: StartHistory,
) -> None:
    run = uuid.uuid4().hex[:8]
    short, default = f"dev-ret-short-{run}", f"dev-ret-default-{run}"
    short_account, other_account = f"acct-short-{run}", f"acct-other-{run}"
    await _register({short: short_account, default: other_account})
    await publish_accounts(
        {short_account: AccountRetention(), other_account: AccountRetention(media_days=1)}
    )
    app = await start_history(retention_days=0)
    now = datetime.now(UTC).replace(microsecond=0)
    recent, old = now - timedelta(minutes=1), now - timedelta(days=3)
    await publish(
        [
            position(short, old, 1),
            position(short, recent, 2),
            position(default, old, 1),
            position(default, recent, 2),
        ]
    )
    for device in (short, default):
        assert len(await wait_for_points(app, device, old - DAY, now + DAY, 2, within=240)) == 2
    assert _ttl(short, old) is None, "no retention set: kept until erased"

    # the account shortens its retention to 2 days: its day of 3 days ago goes, today stays
    await publish_accounts({short_account: AccountRetention(positions_days=2)})
    await until(lambda: app.retention.days(short_account) == 2, "the new retention")
    assert app.retention.days(other_account) == 0  # media only: positions keep the default
    swept = await app.sweep_retention()
    assert swept["positions_by_device_day"] >= 1 and swept["position_days_by_device"] >= 1
    assert [p.fix.latitude for p in await track(app, short, old - DAY, now + DAY)] == [
        position(short, recent, 2).fix.latitude
    ]
    assert len(await track(app, default, old - DAY, now + DAY)) == 2
    assert (await app.store.last_positions([short]))[short].fix_time == recent

    # a row written now carries the 2 days as its TTL; the other account's none. Written by
    # this instance's writer, not through the topic: the stack's own history service would
    # write the same rows too, with whatever retention its build knows
    later = now + timedelta(seconds=1)
    await app.writer.handle([consumed(short, later, 3), consumed(default, later, 3)])
    ttl = _ttl(short, later)
    assert ttl is not None and 2 * 86_400 - 600 < ttl <= 2 * 86_400
    assert _ttl(default, later) is None
