"""The consumer helper against the real broker: commit after handling, dead letters, retries."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import REGISTRY

from tests.integration.helpers import MakeTopic, read_all
from trackstream.tracking.v1.fix_pb2 import Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.registry import default_registry
from trackstream_kafka import (
    ConsumedEvent,
    EventConsumer,
    EventPublisher,
    KafkaSettings,
    RetryableError,
)


async def test_poison_messages_go_to_dead_letters_and_the_rest_is_processed(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    topic = await make_topic()
    publisher = EventPublisher.create(kafka_settings, source="/tests/dlq")
    await publisher.start()
    for serial in range(10):
        event = PositionReported(device_id="dev-1", origin=Origin(message_serial=serial))
        await publisher.publish(topic, event, key="dev-1")
    # a value that is not the protobuf its headers claim, and a record with no envelope at all
    bad_headers = Envelope(
        type="trackstream.tracking.v1.PositionReported", source="/tests", subject="dev-1"
    ).to_headers()
    await publisher.publish_raw(topic, key=b"dev-1", value=b"\xff\xff\xff", headers=bad_headers)
    await publisher.publish_raw(topic, key=b"dev-1", value=b"no headers", headers=[])
    # an event type this consumer does not know: skipped, not dead-lettered
    unknown = Envelope(type="trackstream.future.v9.Thing", source="/tests", subject="dev-1")
    await publisher.publish_raw(topic, key=b"dev-1", value=b"", headers=unknown.to_headers())
    # a tombstone (a finished erasure leaves them): skipped too, and counted apart
    await publisher.publish_tombstone(topic, key="dev-1")
    event = PositionReported(device_id="dev-1", origin=Origin(message_serial=10))
    await publisher.publish(topic, event, key="dev-1")

    handled: list[int] = []
    retries = {"left": 2}

    async def handler(consumed: ConsumedEvent) -> None:
        assert isinstance(consumed.message, PositionReported)
        serial = consumed.message.origin.message_serial
        if serial == 3:
            raise ValueError("serial 3 is poison")
        if serial == 5 and retries["left"]:
            retries["left"] -= 1
            raise RetryableError("store briefly down")
        handled.append(serial)

    group = f"tests-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(
        settings=kafka_settings,
        group_id=group,
        topics=[topic],
        handler=handler,
        registry=default_registry(),
        dead_letters=publisher,
        retry_backoff_s=0.05,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    for _ in range(300):
        if 10 in handled:
            break
        await asyncio.sleep(0.1)
    consumer.stop()
    await asyncio.wait_for(task, 30)
    await publisher.stop()

    assert handled == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert retries["left"] == 0
    dead = await read_all(kafka_settings, f"{topic}.dlq")
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    assert len(dead) == 3, reasons
    assert "ValueError: serial 3 is poison" in reasons[0]
    assert PositionReported.FromString(dead[0].value).origin.message_serial == 3
    assert dict(dead[0].headers)["ce_type"] == b"trackstream.tracking.v1.PositionReported"
    assert dict(dead[0].headers)["dlq_original_topic"] == topic.encode()
    assert dead[1].value == b"\xff\xff\xff" and "PositionReported" in reasons[1]
    assert dead[2].value == b"no headers" and "lack" in reasons[2]
    skipped = {
        outcome: REGISTRY.get_sample_value(
            "trackstream_events_consumed_total",
            {"topic": topic, "group": group, "outcome": outcome},
        )
        for outcome in ("skipped_unknown_type", "skipped_tombstone")
    }
    assert skipped == {"skipped_unknown_type": 1.0, "skipped_tombstone": 1.0}

    # everything was committed: a new member of the group starts after the last record
    probe = AIOKafkaConsumer(
        bootstrap_servers=kafka_settings.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        tp = TopicPartition(topic, 0)
        committed = await probe.committed(tp)
        end = (await probe.end_offsets([tp]))[tp]
        assert committed == end == 15
    finally:
        await probe.stop()


async def test_batch_handler_isolates_the_poison_record_and_retries_whole_batches(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    topic = await make_topic()
    publisher = EventPublisher.create(kafka_settings, source="/tests/dlq-batch")
    await publisher.start()
    for serial in range(20):
        event = PositionReported(device_id="dev-2", origin=Origin(message_serial=serial))
        await publisher.publish(topic, event, key="dev-2")

    batches: list[list[int]] = []
    stored: set[int] = set()
    failures = {"retryable": 1}

    async def batch_handler(events: list[ConsumedEvent]) -> None:
        serials = [e.message.origin.message_serial for e in events]  # type: ignore[attr-defined]
        batches.append(serials)
        if failures["retryable"]:
            failures["retryable"] -= 1
            raise RetryableError("store briefly down")
        if 7 in serials:
            raise ValueError("serial 7 is poison")
        stored.update(serials)

    consumer = EventConsumer(
        settings=kafka_settings,
        group_id=f"tests-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        batch_handler=batch_handler,
        registry=default_registry(),
        dead_letters=publisher,
        retry_backoff_s=0.05,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    for _ in range(300):
        if len(stored) == 19:
            break
        await asyncio.sleep(0.1)
    consumer.stop()
    await asyncio.wait_for(task, 30)
    await publisher.stop()

    assert stored == set(range(20)) - {7}
    assert len(batches[0]) > 1 and batches[0] == batches[1], "the whole batch was retried"
    [dead] = await read_all(kafka_settings, f"{topic}.dlq")
    assert PositionReported.FromString(dead.value).origin.message_serial == 7
    assert b"serial 7 is poison" in dict(dead.headers)["dlq_reason"]
