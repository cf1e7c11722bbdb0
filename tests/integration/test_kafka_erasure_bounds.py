"""The physical side of an erasure on the real broker, on topics whose timings are scaled
down from hours to seconds: a compacted topic loses a subject's values and then its tombstone
(with the roll markers that keep compaction moving on a quiet partition), and a delete-policy
topic loses expired records, while another subject's latest value stays. What the erasure
certificate's bounds (``Topic.erasure_bound_ms``) rely on, measured rather than assumed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.helpers import SCALED_COMPACTED as SCALED_BOUND_COMPACTED
from tests.integration.helpers import SCALED_DELETE as SCALED_BOUND_DELETE
from tests.integration.helpers import read_all
from trackstream_kafka import KafkaSettings
from trackstream_kafka.compaction import ROLL_KEY, keep_compaction_moving
from trackstream_kafka.publisher import EventPublisher

SCALED_COMPACTED = {"cleanup.policy": "compact", **SCALED_BOUND_COMPACTED}
SCALED_DELETE = {"cleanup.policy": "delete", **SCALED_BOUND_DELETE}


@pytest.fixture
async def scaled_topic(kafka_settings: KafkaSettings) -> AsyncIterator[dict[str, str]]:
    """name -> policy of the topics this test made (deleted afterwards)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    made: dict[str, str] = {}
    try:
        for policy, configs in (
            ("compact", SCALED_COMPACTED),
            ("compact-unattended", SCALED_COMPACTED),
            ("delete", SCALED_DELETE),
        ):
            name = f"test.bound{uuid.uuid4().hex[:10]}.v1"
            await admin.create_topics(
                [NewTopic(name, num_partitions=2, replication_factor=1, topic_configs=configs)]
            )
            made[policy] = name
        yield made
    finally:
        await admin.delete_topics(list(made.values()))
        await admin.close()


async def _keys(settings: KafkaSettings, topic: str) -> list[tuple[str, bool]]:
    """(key, is a tombstone) of every record the topic still holds."""
    return [((r.key or b"").decode(), r.value is None) for r in await read_all(settings, topic)]


async def _until(check: Callable[[], Awaitable[bool]], within_s: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        if loop.time() - started > within_s:
            raise AssertionError(f"not reached within {within_s} s")
        await asyncio.sleep(1.0)
    return loop.time() - started


async def test_compaction_removes_the_values_and_then_the_tombstone_of_an_erased_key(
    kafka_settings: KafkaSettings, scaled_topic: dict[str, str]
) -> None:
    """Two topics written alike; roll markers on the first only. The first loses every record
    of the erased key; the second, which nobody writes to any more, keeps them (Kafka never
    compacts an active segment): the markers are what makes the bound hold."""
    kept, unattended = scaled_topic["compact"], scaled_topic["compact-unattended"]
    subject, other = str(uuid.uuid4()), str(uuid.uuid4())
    publisher = EventPublisher.create(kafka_settings, source="/tests/erasure-bounds")
    await publisher.start()
    stopping = asyncio.Event()
    try:
        for topic in (kept, unattended):
            for version in range(3):
                await publisher.publish_records(
                    topic, [(subject, f"v{version}".encode()), (other, f"v{version}".encode())]
                )
            await publisher.publish_tombstones(topic, [subject])
            held = await _keys(kafka_settings, topic)
            assert (subject, False) in held and (subject, True) in held  # the positive control
        keeper = asyncio.create_task(
            keep_compaction_moving(publisher, [kept], interval_s=1.0, stopping=stopping)
        )

        async def subject_gone() -> bool:
            return all(key != subject for key, _ in await _keys(kafka_settings, kept))

        took = await _until(subject_gone, within_s=120)
        left = await _keys(kafka_settings, kept)
        assert (other, False) in left  # the other subject's latest value stays
        assert {key for key, _ in left} <= {other, ROLL_KEY}
        print(f"compacted: the subject's values and tombstone gone after {took:.0f} s")
        await asyncio.sleep(max(5.0, 2 * took))  # the unattended topic had as long and more
        assert (subject, False) in await _keys(kafka_settings, unattended)
        stopping.set()
        await keeper
    finally:
        stopping.set()
        await publisher.stop()


async def test_retention_removes_expired_records_of_a_delete_policy_topic(
    kafka_settings: KafkaSettings, scaled_topic: dict[str, str]
) -> None:
    topic = scaled_topic["delete"]
    subject = str(uuid.uuid4())
    publisher = EventPublisher.create(kafka_settings, source="/tests/erasure-bounds")
    await publisher.start()
    try:
        await publisher.publish_records(topic, [(subject, b"a fix")] * 3)
        assert (subject, False) in await _keys(kafka_settings, topic)

        async def expired() -> bool:
            return not await _keys(kafka_settings, topic)

        # retention 2 s + segment 1 s + the broker's retention check (10 s on the local stack)
        took = await _until(expired, within_s=60)
        print(f"delete policy: expired records gone after {took:.0f} s")
    finally:
        await publisher.stop()
