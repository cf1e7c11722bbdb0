"""State survives restarts and rebalances: no alarm missed, none duplicated."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.alarm.tests.integration.conftest import (
    AlarmRunner,
    AlarmTap,
    names,
    publish,
    register_fleet,
)
from services.alarm.tests.integration.test_alarm_engine import EXPECTED, configure, track
from trackstream_kafka import KafkaSettings
from trackstream_kafka.publisher import CachedPartitioner

POSITIONS = "tracking.positions.v1"


def partition_of(device_id: str) -> int:
    return int(CachedPartitioner()(device_id.encode(), list(range(6)), list(range(6))))


async def end_offset(partition: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=KafkaSettings().bootstrap_servers)
    await consumer.start()
    try:
        tp = TopicPartition(POSITIONS, partition)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def rewind(group: str, partition: int, offset: int) -> None:
    """The group's committed offset back to ``offset``: what a crash before the commit leaves."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KafkaSettings().bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(POSITIONS, partition)
        consumer.assign([tp])
        await consumer.commit({tp: offset})
        assert await consumer.committed(tp) == offset
    finally:
        await consumer.stop()


async def test_a_crash_in_the_middle_of_a_track_neither_misses_nor_duplicates(
    alarm_service: AlarmRunner, tap: AlarmTap
) -> None:
    fleet = await register_fleet()
    [device] = fleet.device_ids
    group = f"alarm-test-{uuid.uuid4().hex[:8]}"
    first = await alarm_service.start(consumer_group=group)
    await configure(first, fleet.account_id, device)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    positions = track(device, start)
    partition = partition_of(device)
    track_start = await end_offset(partition)
    await publish(positions[:6], POSITIONS)
    head = await tap.collect(device, 3)
    assert names(head) == EXPECTED[:3]
    await alarm_service.stop(first)
    # the crash: its states and alarms were written, its offsets not committed
    await rewind(group, partition, track_start)

    await publish(positions[6:], POSITIONS)
    second = await alarm_service.start(consumer_group=group)
    restored = second.processor.states[device]
    assert restored.applied[(POSITIONS, partition)] >= track_start + 5
    alarms = await tap.collect(device, len(EXPECTED), settle=2.0)
    assert names(alarms) == EXPECTED
    assert len({a.alarm_id for a in alarms}) == len(EXPECTED)
    assert [a.alarm_id for a in alarms[:3]] == [a.alarm_id for a in head]


async def test_state_moves_with_its_partitions_when_the_group_rebalances(
    alarm_service: AlarmRunner, tap: AlarmTap
) -> None:
    fleet = await register_fleet(devices=6)
    group = f"alarm-test-{uuid.uuid4().hex[:8]}"
    first = await alarm_service.start(consumer_group=group)
    await configure(first, fleet.account_id, *fleet.device_ids)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    tracks = {d: track(d, start) for d in fleet.device_ids}
    await publish([p for t in tracks.values() for p in t[:6]], POSITIONS)
    for device in fleet.device_ids:
        assert names(await tap.collect(device, 3, settle=0)) == EXPECTED[:3]
    # a second instance joins: the partitions are split and their states restored there
    second = await alarm_service.start(consumer_group=group)
    await asyncio.wait_for(first.processor.assigned.wait(), 60)
    assert first.processor.owned and second.processor.owned
    assert not first.processor.owned & second.processor.owned
    await publish([p for t in tracks.values() for p in t[6:]], POSITIONS)
    for device in fleet.device_ids:
        alarms = await tap.collect(device, len(EXPECTED), settle=0.5)
        assert names(alarms) == EXPECTED, device
        assert len({a.alarm_id for a in alarms}) == len(EXPECTED)
    moved = {partition_of(d) for d in fleet.device_ids} & second.processor.owned
    assert moved, "the test must move some device's state to the second instance"
