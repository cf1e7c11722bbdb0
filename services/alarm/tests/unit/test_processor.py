"""The processor with a fake publisher: replays skipped, failures keep the held state, the
sweep, the changelog codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alarm.adapters.codec import (
    alarm_message,
    alarm_of,
    geofence_of,
    position_of,
    rule_of,
    state_message,
    state_of,
)
from alarm.domain.catalogue import AlarmType
from alarm.domain.debounce import FenceEdge, ThresholdState
from alarm.domain.engine import DeviceState
from alarm.domain.geofences import Circle
from alarm.domain.rules import DeviceRules, RuleKind
from alarm.handlers import ALARMS, DEVICE_STATE, POSITIONS, AlarmProcessor, Definitions
from services.alarm.tests.unit.conftest import at, pos
from trackstream.alarm.v1 import alarm_pb2, geofence_pb2
from trackstream.alarm.v1.device_state_pb2 import DeviceAlarmState
from trackstream.tracking.v1.alarm_pb2 import DeviceAlarmReported
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import ConsumedEvent, PublishError, RetryableError
from trackstream_testing import FakePublisher


def event(message: object, offset: int, topic: str = POSITIONS, partition: int = 0):
    return ConsumedEvent(
        envelope=Envelope(type="t", source="/tests", subject="dev-1"),
        message=message,  # type: ignore[arg-type]
        key="dev-1",
        topic=topic,
        partition=partition,
        offset=offset,
    )


def reported(seconds: float, speed: float, ignition: bool) -> PositionReported:
    return PositionReported(
        device_id="dev-1",
        fix=Fix(
            fix_time=to_timestamp(at(seconds)),
            latitude=41.0,
            longitude=29.0,
            speed_kmh=speed,
            valid=True,
        ),
        ignition=ignition,
    )


def definitions() -> Definitions:
    d = Definitions()
    d.rule_changed(
        "r-ign",
        geofence_pb2.Rule(
            rule_id="r-ign", account_id="acc-1", kind=geofence_pb2.RULE_KIND_IGNITION, enabled=True
        ),
    )
    d.rule_changed(
        "r-off",
        geofence_pb2.Rule(
            rule_id="r-off",
            account_id="acc-1",
            kind=geofence_pb2.RULE_KIND_OFFLINE,
            offline_after_s=60,
            enabled=True,
        ),
    )
    return d


def processor(publisher: FakePublisher) -> AlarmProcessor:
    p = AlarmProcessor(
        publisher=publisher,
        definitions=definitions(),
        account_of=lambda device: "acc-1" if device == "dev-1" else "",
        clock=lambda: at(0),
    )
    p.assign(0, [])
    return p


def alarm_types(publisher: FakePublisher) -> list[str]:
    return [
        alarm_pb2.AlarmType.Name(p.message.type)  # type: ignore[union-attr]
        for p in publisher.on(ALARMS)
    ]


async def test_a_batch_publishes_alarms_then_states_and_a_replay_is_skipped() -> None:
    publisher = FakePublisher()
    proc = processor(publisher)
    batch = [event(reported(0, 0, False), 10), event(reported(10, 0, True), 11)]
    await proc.handle(batch)
    assert alarm_types(publisher) == ["ALARM_TYPE_IGNITION_ON"]
    assert [p.topic for p in publisher.published] == [ALARMS, DEVICE_STATE]
    alarm = publisher.on(ALARMS)[0]
    assert alarm.envelope is not None
    assert alarm.envelope.id == alarm.message.alarm_id  # type: ignore[union-attr]
    state = DeviceAlarmState.FromString(publisher.on(DEVICE_STATE)[0].value or b"")
    assert [(a.topic, a.partition, a.offset) for a in state.applied] == [(POSITIONS, 0, 11)]
    # the same batch again (a crash before the commit): nothing new
    await proc.handle(batch)
    assert len(publisher.published) == 2


async def test_a_failed_publish_keeps_the_held_state_and_asks_for_a_retry() -> None:
    publisher = FakePublisher()
    proc = processor(publisher)
    await proc.handle([event(reported(0, 0, False), 10)])
    before = proc.states["dev-1"].copy()
    publisher.fail_next = PublishError("not acknowledged")
    batch = [event(reported(10, 0, True), 11)]
    with pytest.raises(RetryableError):
        await proc.handle(batch)
    assert proc.states["dev-1"] == before
    await proc.handle(batch)  # the retry raises the alarm
    assert alarm_types(publisher) == ["ALARM_TYPE_IGNITION_ON"]


async def test_records_of_partitions_not_owned_are_left_to_their_owner() -> None:
    publisher = FakePublisher()
    proc = processor(publisher)
    await proc.handle([event(reported(0, 0, False), 10, partition=3)])
    assert publisher.published == [] and "dev-1" not in proc.states
    proc.revoke([0])
    await proc.handle([event(reported(0, 0, False), 10)])
    assert publisher.published == []


async def test_device_alarms_are_normalised_without_state() -> None:
    publisher = FakePublisher()
    proc = processor(publisher)
    message = DeviceAlarmReported(
        device_id="dev-1", alarm_type="dms", protocol_code=0x03, alarm_time=to_timestamp(at(5))
    )
    await proc.handle([event(message, 1, topic="tracking.device-alarms.v1")])
    [raised] = publisher.on(ALARMS)
    assert raised.message.type == alarm_pb2.ALARM_TYPE_SMOKING  # type: ignore[union-attr]
    assert raised.message.protocol_alarm_type == "dms"  # type: ignore[union-attr]
    assert publisher.on(DEVICE_STATE) == []


async def test_the_sweep_raises_offline_once_from_the_wall_clock() -> None:
    publisher = FakePublisher()
    proc = processor(publisher)
    await proc.handle([event(reported(0, 40, True), 1)])
    proc.clock = lambda: at(59)
    assert await proc.sweep() == []
    proc.clock = lambda: at(61)
    [offline] = await proc.sweep()
    assert offline.type is AlarmType.OFFLINE and offline.time == at(60)
    assert await proc.sweep() == []
    assert alarm_types(publisher) == ["ALARM_TYPE_OFFLINE"]
    assert proc.states["dev-1"].raised_windows == {"r-off": at(0)}


def test_device_state_round_trips_through_the_changelog_message() -> None:
    state = DeviceState(
        "dev-1",
        last=pos(10, speed_kmh=12.5),
        ignition=True,
        ignition_time=at(1),
        moving=False,
        stopped_since=at(2),
        idle_since=at(3),
        parked_since=at(4),
        fences={"f": FenceEdge(inside=True, since=at(5), pending_since=at(6), dwell_raised=True)},
        thresholds={"r": ThresholdState(active=True), "p": ThresholdState(pending_since=at(7))},
        raised_windows={"r-off": at(8)},
        applied={(POSITIONS, 2): 99},
    )
    again = state_of(DeviceAlarmState.FromString(state_message(state).SerializeToString()))
    assert again.last is not None and state.last is not None
    assert (again.last.time, again.last.latitude, again.last.speed_kmh) == (
        state.last.time,
        state.last.latitude,
        state.last.speed_kmh,
    )
    again.last = state.last
    assert again == state


def test_messages_to_domain_values() -> None:
    fence = geofence_of(
        geofence_pb2.Geofence(
            geofence_id="g",
            account_id="a",
            circle=geofence_pb2.Circle(
                center=geofence_pb2.LatLng(latitude=1.5, longitude=2.5), radius_m=30
            ),
            device_ids=["d"],
            alarm_on_exit=True,
            confirm_s=4,
        )
    )
    assert fence.shape == Circle(1.5, 2.5, 30.0) and fence.device_ids == frozenset({"d"})
    assert (fence.alarm_on_enter, fence.alarm_on_exit, fence.confirm_s) == (False, True, 4)
    rule = rule_of(geofence_pb2.Rule(rule_id="r", account_id="a", kind=99))  # type: ignore[arg-type]
    assert rule.kind is RuleKind.UNSPECIFIED
    p = position_of(reported(3, 20, True))
    assert (p.time, p.speed_kmh, p.ignition, p.battery_percent) == (at(3), 20.0, True, None)
    raised = alarm_pb2.AlarmRaised(
        alarm_id="x",
        device_id="dev-1",
        type=alarm_pb2.ALARM_TYPE_GEOFENCE_ENTER,
        severity=alarm_pb2.SEVERITY_WARNING,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        alarm_time=to_timestamp(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=1)),
        geofence_id="g",
        details={"k": "v"},
    )
    assert alarm_message(alarm_of(raised)) == raised


def test_rules_for_a_device_follow_bindings_and_changes() -> None:
    d = definitions()
    shared = d.rules_for("acc-1", "dev-1")
    assert [r.rule_id for r in shared.ignition] == ["r-ign"]
    assert [r.rule_id for r in shared.timers] == ["r-off"]
    assert d.rules_for("acc-1", "dev-2") is shared  # no rule bound to devices: one for all
    d.rule_changed(
        "r-speed",
        geofence_pb2.Rule(
            rule_id="r-speed",
            account_id="acc-1",
            kind=geofence_pb2.RULE_KIND_OVERSPEED,
            speed_limit_kmh=90,
            device_ids=["dev-2"],
            enabled=True,
        ),
    )
    assert d.rules_for("acc-1", "dev-1").thresholds == ()
    assert [r.rule_id for r in d.rules_for("acc-1", "dev-2").thresholds] == ["r-speed"]
    d.rule_changed("r-ign", None)
    assert d.rules_for("acc-1", "dev-1").ignition == ()
    assert d.rules_for("acc-other", "dev-1") == DeviceRules()
