"""Helpers for tests against the real Kafka broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from trackstream_kafka import admin
from trackstream_kafka.settings import KafkaSettings

#: the make_topic fixture: creates a unique topic (and its .dlq) and returns its name
MakeTopic = Callable[..., Awaitable[str]]


async def read_all(
    settings: KafkaSettings, topic: str, *, timeout_s: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now in ``topic``, from the first offset to the end."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        partitions = consumer.assignment()
        while not partitions:
            await asyncio.sleep(0.1)
            partitions = consumer.assignment()
        end = await consumer.end_offsets(list(partitions))
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            if loop.time() > deadline:
                raise TimeoutError(f"reading {topic} did not reach its end offsets")
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def end_offsets(settings: KafkaSettings, *topics: str) -> dict[TopicPartition, int]:
    """The current end offset of every partition of ``topics``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(metadata.partitions_for_topic(topic) or ())
        ]
        missing = {t for t in topics} - {tp.topic for tp in partitions}
        assert not missing, f"no such topics: {sorted(missing)} (run make provision)"
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def start_group_at_end(settings: KafkaSettings, group: str, *topics: str) -> None:
    """Commit ``group``'s offsets at the current end of ``topics`` (trackstream_kafka.admin)."""
    await admin.start_group_at_end(settings, group, *topics)
