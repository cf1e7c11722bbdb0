"""Retention per account: each stored row carries its account's retention as a Cassandra TTL,
the device's account coming from the registry identity publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.history.tests.integration.conftest import (
    DAY,
    StartHistory,
    position,
    wait_for_points,
)
from services.history.tests.integration.test_history_store import publish
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_cassandra import CassandraSettings, connect
from trackstream_kafka import EventPublisher, KafkaSettings


async def test_rows_expire_with_their_accounts_retention(start_history: StartHistory) -> None:
    run = uuid.uuid4().hex[:8]
    short, default = f"dev-ret-short-{run}", f"dev-ret-default-{run}"
    registry = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await registry.start()
    try:
        for device, account in ((short, f"acct-short-{run}"), (default, f"acct-other-{run}")):
            await registry.publish(
                "identity.device-registry.v1",
                DeviceRegistered(
                    device_id=device,
                    identifier_hmac=uuid.uuid4().bytes,
                    owner_account_id=account,
                ),
                key=device,
            )
    finally:
        await registry.stop()
    app = await start_history(retention_days=0, account_retention_days={f"acct-short-{run}": 2})
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    await publish([position(short, when, 1), position(default, when, 1)])
    for device in (short, default):
        assert len(await wait_for_points(app, device, when - DAY, when + DAY, 1, within=240)) == 1

    settings = CassandraSettings()
    session = connect(settings, keyspace=settings.keyspace)
    try:
        ttl = {
            device: session.execute(
                "SELECT TTL(latitude) AS ttl FROM positions_by_device_day "
                "WHERE device_id = %s AND day = %s",
                (device, when.date()),
            )
            .one()
            .ttl
            for device in (short, default)
        }
    finally:
        session.cluster.shutdown()
    assert 2 * 86_400 - 600 < ttl[short] <= 2 * 86_400
    assert ttl[default] is None, "an account without retention keeps positions until erased"
