"""Alarm's erasure on the real Cassandra and Kafka: an account's device alarms, state, fences and
rules go (from the tables, the topics and the running engine), another account's stay, every
planned store is acknowledged, a second run deletes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest

from alarm.bootstrap import AlarmApp, bootstrap
from alarm.config import AlarmSettings
from alarm.domain.engine import DeviceState
from alarm.erasure import PARTICIPANT
from privacy.domain.plan import PARTICIPANT_STORES
from tests.integration.helpers import (
    apply_erasure,
    deleted_counts,
    erasure_order,
    records_at,
    tombstoned_keys,
)
from trackstream.alarm.v1.alarm_pb2 import AlarmRaised
from trackstream.alarm.v1.geofence_pb2 import Circle, Geofence, LatLng, Rule, RuleKind
from trackstream.privacy.v1.erasure_pb2 import StoreErased, SubjectKind
from trackstream_kafka import KafkaSettings

#: exactly what the privacy service expects alarm to acknowledge
PLAN = set(PARTICIPANT_STORES["alarm"])


@pytest.fixture
async def alarm() -> AsyncIterator[AlarmApp]:
    app = bootstrap(AlarmSettings(consumer_group=f"alarm-test-{uuid.uuid4().hex[:8]}"))
    await app.publisher.start()
    yield app
    await app.publisher.stop()
    app.cassandra.close()


async def _seed(app: AlarmApp, account: str, device: str, other_device: str) -> None:
    """Two days of alarms and a state for ``device``; a fence and a rule of ``account``; a
    fence of nobody's account naming ``device`` and ``other_device``."""
    # two days: the day before yesterday 01:00 and 13:00, yesterday 01:00
    start = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time(1), UTC)
    raised = []
    for n in range(3):
        stamp = AlarmRaised(alarm_id=f"alarm-{device}-{n}", device_id=device)
        stamp.alarm_time.FromDatetime(start + timedelta(hours=12 * n))
        raised.append(stamp)
    await app.store.write(raised)
    app.processor.states[device] = DeviceState(device)
    app.processor.partition_of[device] = 0
    circle = Circle(center=LatLng(latitude=41.0, longitude=29.0), radius_m=500)
    app.tables.geofences.apply(
        f"fence-{account}",
        Geofence(
            geofence_id=f"fence-{account}",
            account_id=account,
            circle=circle,
            alarm_on_enter=True,
        ),
    )
    app.tables.geofences.apply(
        f"fence-shared-{device}",
        Geofence(
            geofence_id=f"fence-shared-{device}",
            account_id=f"other-{account}",
            circle=circle,
            alarm_on_enter=True,
            device_ids=[device, other_device],
        ),
    )
    app.tables.rules.apply(
        f"rule-{account}",
        Rule(
            rule_id=f"rule-{account}",
            account_id=account,
            kind=RuleKind.RULE_KIND_OVERSPEED,
            enabled=True,
            speed_limit_kmh=90,
        ),
    )


async def _held(app: AlarmApp, account: str, device: str) -> int:
    rows = len(
        await app.cassandra.execute(
            "SELECT day FROM alarm_days_by_device WHERE device_id = ?", (device,)
        )
    )
    today = datetime.now(UTC).date()
    for day in (today - timedelta(days=n) for n in range(3)):  # where _seed's alarms fall
        found = await app.cassandra.execute(
            "SELECT alarm_id FROM alarms_by_device_day WHERE device_id = ? AND day = ?",
            (device, day),
        )
        rows += bool(found)
    for n in range(3):
        rows += len(
            await app.cassandra.execute(
                "SELECT device_id FROM alarm_by_id WHERE alarm_id = ?", (f"alarm-{device}-{n}",)
            )
        )
    held = device in app.processor.states
    definitions = app.definitions
    named = [f for f in definitions.fence_messages.values() if device in f.device_ids]
    own = [k for k in (f"fence-{account}",) if k in definitions.fence_messages]
    own += [k for k in (f"rule-{account}",) if k in definitions.rule_messages]
    return rows + held + len(named) + len(own) + len(definitions.rules_of(account))


async def _tombstones(store: StoreErased, topic: str) -> set[str]:
    places = [(t.partition, t.offset) for t in store.tombstones]
    assert all(t.topic == topic for t in store.tombstones)
    return tombstoned_keys(await records_at(KafkaSettings(), topic, places))


async def test_an_accounts_alarms_state_and_definitions_are_erased(alarm: AlarmApp) -> None:
    run = uuid.uuid4().hex[:8]
    account, device = f"acct-aerase-{run}", f"dev-aerase-{run}"
    kept_account, kept_device = f"acct-akeep-{run}", f"dev-akeep-{run}"
    await _seed(alarm, account, device, kept_device)
    await _seed(alarm, kept_account, kept_device, device)
    # rows: 2 partitions + 2 days + 3 ids; state; 2 fences name it; own fence, rule, rules_of
    assert await _held(alarm, account, device) == 7 + 1 + 2 + 2 + 1

    order = erasure_order(
        SubjectKind.SUBJECT_KIND_ACCOUNT, account, device_ids=[device], account_ids=[account]
    )
    stores = await apply_erasure(PARTICIPANT, alarm.erasure.erase, order)

    assert set(stores) == PLAN
    assert deleted_counts(stores) == {
        "cassandra:alarms_by_device_day": 2,
        "cassandra:alarm_days_by_device": 2,
        "cassandra:alarm_by_id": 3,
        "kafka:alarm.device-state.v1": 1,
        # its own fence tombstoned; the two fences naming it and another device narrowed
        "kafka:alarm.geofences.v1": 1 + 2,
        "kafka:alarm.rules.v1": 1,
        "memory:engine": 1 + 3 + 1,
    }
    assert await _held(alarm, account, device) == 0
    # the other subject: its rows, state, the fences naming it, its own fence and rule
    assert await _held(alarm, kept_account, kept_device) == 7 + 1 + 2 + 2 + 1
    shared = alarm.definitions.fence_messages[f"fence-shared-{kept_device}"]
    assert list(shared.device_ids) == [kept_device]  # narrowed: the erased device is out
    assert await _tombstones(stores["kafka:alarm.device-state.v1"], "alarm.device-state.v1") == {
        device
    }
    assert await _tombstones(stores["kafka:alarm.geofences.v1"], "alarm.geofences.v1") == {
        f"fence-{account}"
    }
    assert await _tombstones(stores["kafka:alarm.rules.v1"], "alarm.rules.v1") == {
        f"rule-{account}"
    }

    again = await apply_erasure(PARTICIPANT, alarm.erasure.erase, order)
    assert set(again) == PLAN
    assert set(deleted_counts(again).values()) == {0}
