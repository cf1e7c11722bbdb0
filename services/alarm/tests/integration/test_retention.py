"""Retention per account on the real Kafka and Cassandra: the alarm service reads each account's
retention from identity.accounts.v1; an account that shortens its alarm retention to 1 day
loses the alarms older than that (swept through the day index), keeps the newer ones, another
account keeps its own; a row written after carries the retention as its TTL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from alarm.adapters.store import ALARMS, BY_ID, DAYS
from alarm.bootstrap import AlarmApp
from services.alarm.tests.integration.conftest import AlarmRunner, register_fleet
from tests.integration.helpers import publish_accounts, until
from trackstream.alarm.v1.alarm_pb2 import AlarmRaised
from trackstream.identity.v1.accounts_pb2 import AccountRetention
from trackstream_events.retention import DAY_S


def _alarm(device_id: str, when: datetime) -> AlarmRaised:
    alarm = AlarmRaised(alarm_id=f"alarm-{uuid.uuid4()}", device_id=device_id)
    alarm.alarm_time.FromDatetime(when)
    return alarm


async def _stored(app: AlarmApp, alarm: AlarmRaised) -> dict[str, bool]:
    """Which of the three tables still hold the alarm."""
    device, when = alarm.device_id, alarm.alarm_time.ToDatetime(tzinfo=UTC)
    day = when.date()
    run = app.cassandra.execute
    return {
        ALARMS: bool(
            await run(
                f"SELECT alarm_id FROM {ALARMS} WHERE device_id = ? AND day = ? AND "
                "alarm_time = ? AND alarm_id = ?",
                (device, day, when, alarm.alarm_id),
            )
        ),
        DAYS: bool(
            await run(f"SELECT day FROM {DAYS} WHERE device_id = ? AND day = ?", (device, day))
        ),
        BY_ID: bool(await run(f"SELECT day FROM {BY_ID} WHERE alarm_id = ?", (alarm.alarm_id,))),
    }


ALL = {ALARMS: True, DAYS: True, BY_ID: True}
NONE = {ALARMS: False, DAYS: False, BY_ID: False}


async def _ttls(app: AlarmApp, alarm: AlarmRaised) -> tuple[int | None, int | None]:
    when = alarm.alarm_time.ToDatetime(tzinfo=UTC)
    row = await app.cassandra.execute(
        f"SELECT TTL(alarm) AS ttl, TTL(acknowledged_by) AS ack_ttl FROM {ALARMS} "
        "WHERE device_id = ? AND day = ? AND alarm_time = ? AND alarm_id = ?",
        (alarm.device_id, when.date(), when, alarm.alarm_id),
    )
    by_id = await app.cassandra.execute(
        f"SELECT TTL(device_id) AS ttl FROM {BY_ID} WHERE alarm_id = ?", (alarm.alarm_id,)
    )
    assert row[0].ttl == by_id[0].ttl or abs(row[0].ttl - by_id[0].ttl) <= 2
    return row[0].ttl, row[0].ack_ttl


async def test_a_shortened_alarm_retention_sweeps_the_older_days_of_that_account_only(
    alarm_service: AlarmRunner,
) -> None:
    short, other = await register_fleet(), await register_fleet()
    await publish_accounts(
        {short.account_id: AccountRetention(), other.account_id: AccountRetention()}
    )
    app = await alarm_service.start()
    (device,), (other_device,) = short.device_ids, other.device_ids
    await until(
        lambda: (
            app.tables.registry.get(device) is not None
            and app.tables.registry.get(other_device) is not None
            and app.tables.accounts.get(short.account_id) is not None
        ),
        "the registry and the accounts",
    )
    now = datetime.now(UTC)
    old, new = _alarm(device, now - timedelta(days=3)), _alarm(device, now - timedelta(hours=1))
    other_old = _alarm(other_device, now - timedelta(days=3))
    await app.store.write([old, new, other_old])
    for alarm in (old, new, other_old):
        assert await _stored(app, alarm) == ALL
    assert (await _ttls(app, old))[0] is None  # no retention yet: kept until erased

    await publish_accounts({short.account_id: AccountRetention(alarms_days=1, positions_days=7)})
    await until(lambda: app.retention.days(short.account_id) == 1, "the new retention")
    assert app.retention.days(other.account_id) == 0

    swept = await app.sweep_retention()
    assert swept[ALARMS] >= 1 and swept[DAYS] >= 1 and swept[BY_ID] >= 1
    assert await _stored(app, old) == NONE
    assert await _stored(app, new) == ALL
    assert await _stored(app, other_old) == ALL
    # a second round finds nothing more of ours
    await app.sweep_retention()
    assert await _stored(app, new) == ALL

    # a row written now expires 1 day after its alarm time, and so does an acknowledgement
    fresh = _alarm(device, datetime.now(UTC) - timedelta(hours=2))
    await app.store.write([fresh])
    ttl, _ = await _ttls(app, fresh)
    assert ttl is not None and DAY_S - 2 * 3600 - 60 <= ttl <= DAY_S - 2 * 3600
    await app.store.mark(
        device, fresh.alarm_id, action="acknowledge", user_id="u", note="", at=datetime.now(UTC)
    )
    ttl, ack_ttl = await _ttls(app, fresh)
    assert ack_ttl is not None and abs(ack_ttl - (ttl or 0)) <= 2
    # an alarm already older than the retention is not written at all
    stale = _alarm(device, datetime.now(UTC) - timedelta(days=2))
    await app.store.write([stale])
    assert await _stored(app, stale) == NONE
    # the other account's new rows still carry no TTL
    other_new = _alarm(other_device, datetime.now(UTC))
    await app.store.write([other_new])
    assert (await _ttls(app, other_new))[0] is None
