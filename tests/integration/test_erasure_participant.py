"""The erasure participant against the real broker: an order in, one acknowledgement out per
order (re-run when re-sent), tombstones with their offsets, and the orders topic's own
tombstones skipped rather than dead-lettered."""

from __future__ import annotations

import asyncio
import uuid

from tests.integration.helpers import MakeTopic, end_offsets, read_all, start_group_at_end
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureOrdered,
    StoreErased,
    SubjectKind,
)
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_kafka.erasure import (
    ACKS_TOPIC,
    ORDERS_TOPIC,
    ErasureParticipant,
    tombstone_keys,
)


async def _acks_for(settings: KafkaSettings, request_id: str) -> list[ErasureAcknowledged]:
    records = await read_all(settings, ACKS_TOPIC)
    return [
        ErasureAcknowledged.FromString(r.value)
        for r in records
        if r.key == request_id.encode() and r.value is not None
    ]


async def test_each_order_is_erased_and_acknowledged_and_tombstones_are_skipped(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    compacted = await make_topic()  # stands in for a compacted, subject-keyed topic
    publisher = EventPublisher.create(kafka_settings, source="/tests/erasure")
    await publisher.start()
    erased: list[tuple[str, tuple[str, ...]]] = []

    async def erase(order: ErasureOrdered) -> list[StoreErased]:
        erased.append((order.request_id, tuple(order.device_ids)))
        return [await tombstone_keys(publisher, "identity.device-registry.v1", [])]

    group = f"tests-erasure-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(kafka_settings, group, ORDERS_TOPIC)
    participant = ErasureParticipant(
        settings=kafka_settings,
        participant="tests",
        erase=erase,
        publisher=publisher,
        group_id=group,
    )
    await participant.start()
    task = asyncio.create_task(participant.run())
    request_id = str(uuid.uuid4())
    order = ErasureOrdered(
        request_id=request_id,
        subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
        subject_id="dev-erase-1",
        device_ids=["dev-erase-1"],
        attempt=1,
    )
    dead_before = await end_offsets(kafka_settings, f"{ORDERS_TOPIC}.dlq")
    await publisher.publish(ORDERS_TOPIC, order, key=request_id)
    await publisher.publish_tombstone(ORDERS_TOPIC, key=str(uuid.uuid4()))
    order.attempt = 2  # a re-sent order is erased (idempotently) and acknowledged again
    await publisher.publish(ORDERS_TOPIC, order, key=request_id)
    try:
        for _ in range(200):
            if len(erased) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        participant.stop()
        await asyncio.wait_for(task, 30)

    assert erased == [(request_id, ("dev-erase-1",))] * 2
    acks = await _acks_for(kafka_settings, request_id)
    assert [(a.participant, a.attempt) for a in acks] == [("tests", 1), ("tests", 2)]
    assert acks[0].stores[0].store == "kafka:identity.device-registry.v1"
    assert acks[0].stores[0].mechanism == "tombstone"
    assert acks[0].stores[0].physically_gone_by.seconds > acks[0].erased_at.seconds
    assert await end_offsets(kafka_settings, f"{ORDERS_TOPIC}.dlq") == dead_before

    # tombstones report where each landed
    written = await publisher.publish_tombstones(compacted, ["a", "b", "c"])
    await publisher.stop()
    records = await read_all(kafka_settings, compacted)
    assert written == [(r.partition, r.offset) for r in records]
    assert [r.key for r in records] == [b"a", b"b", b"c"]
    assert all(r.value is None for r in records)
