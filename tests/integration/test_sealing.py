"""Sealed fields against the real Kafka and Cassandra: the key store's rules (one key per
subject under a race, a destroyed key stays dead after a restore) and the replay that does not
bring an erased subject back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from tests.integration.helpers import MakeTopic, read_all
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_kafka import ConsumedEvent, EventConsumer, EventPublisher, KafkaSettings
from trackstream_kafka.publisher import SubjectErased
from trackstream_kafka.sealing import (
    SEALED_HEADER,
    CassandraDataKeyStore,
    DataKeys,
    SubjectShredded,
    subject_hash,
)


@pytest.fixture(scope="module")
def keyspace_store(cassandra_settings: CassandraSettings) -> Iterator[CassandraStore]:
    store = CassandraStore(connect(cassandra_settings, keyspace=cassandra_settings.keyspace))
    yield store
    store.close()


def _position(device_id: str, serial: int) -> PositionReported:
    event = PositionReported(
        device_id=device_id,
        fix=Fix(latitude=48.0 + serial / 1000, longitude=11.5, speed_kmh=serial, valid=True),
        odometer_m=serial * 10.0,
    )
    event.fix.fix_time.FromSeconds(1_700_000_000 + serial)
    event.attributes["driver"] = f"name-of-{device_id}"
    return event


async def test_two_producers_racing_for_a_new_subject_get_the_same_key(
    keyspace_store: CassandraStore,
) -> None:
    subject = f"dev-{uuid.uuid4()}"
    producers = [DataKeys(CassandraDataKeyStore(keyspace_store)) for _ in range(4)]
    results = await asyncio.gather(*(p.for_sealing([subject]) for p in producers))
    assert len({r[subject].key_id for r in results}) == 1
    assert len({r[subject].secret for r in results}) == 1
    stored = await CassandraDataKeyStore(keyspace_store).get(subject)
    assert stored == results[0][subject]


async def test_a_destroyed_key_restored_from_a_backup_is_refused(
    keyspace_store: CassandraStore,
) -> None:
    subject = f"dev-{uuid.uuid4()}"
    store = CassandraDataKeyStore(keyspace_store)
    key = (await DataKeys(store).for_sealing([subject]))[subject]
    backup = await keyspace_store.execute(
        "SELECT subject_id, key_id, data_key, created_at FROM subject_data_keys "
        "WHERE subject_id = ?",
        (subject,),
    )
    assert await DataKeys(store).destroy(subject) is True
    assert await store.get(subject) is None
    denied = await keyspace_store.execute(
        "SELECT subject_hash FROM destroyed_data_keys WHERE key_id = ?", (key.key_id,)
    )
    assert [r.subject_hash for r in denied] == [subject_hash(subject)]
    with pytest.raises(SubjectShredded):  # no new key for an erased subject
        await DataKeys(store).for_sealing([subject])
    assert await store.get(subject) is None

    # the backup's row comes back into the key table: every reader still refuses it
    row = backup[0]
    await keyspace_store.execute(
        "INSERT INTO subject_data_keys (subject_id, key_id, data_key, created_at) "
        "VALUES (?, ?, ?, ?)",
        (row.subject_id, row.key_id, row.data_key, row.created_at),
    )
    assert await store.get(subject) == key
    restored = DataKeys(store)
    assert await restored.for_opening([(subject, key.key_id)]) == {(subject, key.key_id): None}
    with pytest.raises(SubjectShredded):
        await restored.for_sealing([subject])
    assert await DataKeys(store).destroy(subject) is True  # the restored row goes again


async def test_replaying_a_sealed_topic_from_offset_0_does_not_bring_an_erased_device_back(
    kafka_settings: KafkaSettings, make_topic: MakeTopic, keyspace_store: CassandraStore
) -> None:
    topic = await make_topic()
    sealed_here = {topic}

    def keys() -> DataKeys:  # each process its own cache, as in services
        return DataKeys(CassandraDataKeyStore(keyspace_store), seals=sealed_here.__contains__)

    erased, kept = f"dev-{uuid.uuid4()}", f"dev-{uuid.uuid4()}"
    publisher = EventPublisher.create(kafka_settings, source="/tests/sealing", data_keys=keys())
    await publisher.start()
    try:
        for serial in range(5):
            await publisher.publish(topic, _position(erased, serial), key=erased)
            await publisher.publish(topic, _position(kept, serial), key=kept)
        raw = await read_all(kafka_settings, topic)
        assert len(raw) == 10
        for record in raw:  # on Kafka, nothing personal in clear
            assert SEALED_HEADER in dict(record.headers)
            value = PositionReported.FromString(record.value)
            assert not value.HasField("fix") and not value.attributes
            assert b"name-of-" not in record.value + dict(record.headers)[SEALED_HEADER]

        # a fresh consumer before the erasure gets everything back, opened
        before = await _replay(kafka_settings, topic, keys(), expect=10)
        speeds = [_speed(e) for e in before if e.key == erased]
        assert sorted(speeds) == [0, 1, 2, 3, 4]
        assert before[0].message == _position(before[0].key, _speed(before[0]))

        # erasure: the privacy service destroys the key (deny-list first, then the row)
        assert await keys().destroy(erased) is True
        assert publisher.data_keys is not None
        publisher.data_keys.forget(erased)  # as when its cache entry expires (the TTL)
        with pytest.raises(SubjectErased):  # the device still reporting: nothing is sent
            await publisher.publish(topic, _position(erased, 99), key=erased)
    finally:
        await publisher.stop()

    group = f"tests-replay-{uuid.uuid4().hex[:8]}"
    after = await _replay(kafka_settings, topic, keys(), expect=5, group=group)
    assert {e.key for e in after} == {kept}
    assert [_speed(e) for e in after] == [0, 1, 2, 3, 4]
    assert all(e.message == _position(kept, _speed(e)) for e in after)
    shredded = REGISTRY.get_sample_value(
        "trackstream_events_consumed_total",
        {"topic": topic, "group": group, "outcome": "skipped_shredded"},
    )
    assert shredded == 5.0


def _speed(event: ConsumedEvent) -> int:
    assert isinstance(event.message, PositionReported)
    return int(event.message.fix.speed_kmh)


async def _replay(
    settings: KafkaSettings,
    topic: str,
    data_keys: DataKeys,
    *,
    expect: int,
    group: str | None = None,
) -> list[ConsumedEvent]:
    """Every event a fresh group gets from offset 0, once the topic has been read to its end."""
    handled: list[ConsumedEvent] = []

    async def handler(event: ConsumedEvent) -> None:
        handled.append(event)

    dead_letters = EventPublisher.create(settings, source="/tests/sealing")
    consumer = EventConsumer(
        settings=settings,
        group_id=group or f"tests-replay-{uuid.uuid4().hex[:8]}",
        topics=[topic],
        handler=handler,
        registry=default_registry(),
        dead_letters=dead_letters,
        data_keys=data_keys,
    )
    await dead_letters.start()
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        end = (await read_all(settings, topic))[-1].offset + 1
        await consumer.positions()  # assigned
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            positions = await consumer.positions()
            if positions and all(p >= end for p in positions.values()):
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError("the replay did not reach the end of the topic")
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await dead_letters.stop()
    assert len(handled) == expect, [e.key for e in handled]
    return handled


async def test_a_tampered_or_moved_sealed_header_is_dead_lettered_never_handed_over(
    kafka_settings: KafkaSettings, make_topic: MakeTopic, keyspace_store: CassandraStore
) -> None:
    topic, other_topic = await make_topic(), await make_topic()
    sealed_here = {topic, other_topic}

    def keys() -> DataKeys:
        return DataKeys(CassandraDataKeyStore(keyspace_store), seals=sealed_here.__contains__)

    device = f"dev-{uuid.uuid4()}"
    publisher = EventPublisher.create(kafka_settings, source="/tests/sealing", data_keys=keys())
    await publisher.start()
    try:
        await publisher.publish(topic, _position(device, 1), key=device)
        [original] = await read_all(kafka_settings, topic)
        headers = list(original.headers)
        flipped = [
            (n, v[:-1] + bytes([v[-1] ^ 1]) if n == SEALED_HEADER else v) for n, v in headers
        ]
        # a bit flipped in the ciphertext, and the intact record copied to another topic
        await publisher.publish_raw(topic, key=original.key, value=original.value, headers=flipped)
        await publisher.publish_raw(
            other_topic, key=original.key, value=original.value, headers=headers
        )
    finally:
        await publisher.stop()
    handled = await _replay(kafka_settings, topic, keys(), expect=1)
    assert handled[0].offset == original.offset  # the intact one only
    assert await _replay(kafka_settings, other_topic, keys(), expect=0) == []
    for name in (topic, other_topic):
        [dead] = await read_all(kafka_settings, f"{name}.dlq")
        reason = dict(dead.headers)["dlq_reason"].decode()
        assert "does not authenticate" in reason, reason
