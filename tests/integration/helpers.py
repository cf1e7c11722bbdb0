"""Helpers for tests against the real Kafka broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from google.protobuf.message import Message

from trackstream.identity.v1.accounts_pb2 import AccountChanged, AccountRetention
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureOrdered,
    StoreErased,
    SubjectKind,
)
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_events import catalog
from trackstream_kafka import admin
from trackstream_kafka.compaction import append_roll_markers
from trackstream_kafka.erasure import Erase, ErasureParticipant
from trackstream_kafka.publisher import EventPublisher
from trackstream_kafka.sealing import (
    CassandraDataKeyStore,
    DataKeys,
    keys_for_records,
    open_record,
)
from trackstream_kafka.settings import KafkaSettings

_M = TypeVar("_M", bound=Message)

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


class SealedRecords:
    """Opens raw records as a consumer gets them: sealed fields opened with the data keys in
    the local Cassandra (``trackstream_kafka.sealing``). One Cassandra session; ``close()``."""

    def __init__(self) -> None:
        settings = CassandraSettings()
        self._store = CassandraStore(connect(settings, keyspace=settings.keyspace))
        self.data_keys = DataKeys(CassandraDataKeyStore(self._store))

    async def events(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], message_type: type[_M]
    ) -> list[_M]:
        """The events of ``records`` (a record whose key is gone raises ``Shredded``)."""
        keys = await keys_for_records(self.data_keys, [records])
        events = []
        for record in records:
            event = message_type.FromString(record.value)
            ce_id = dict(record.headers)["ce_id"].decode()
            open_record(event, record, ce_id, keys, self.data_keys)
            events.append(event)
        return events

    def close(self) -> None:
        self._store.close()


async def open_records(
    records: Sequence[ConsumerRecord[bytes, bytes]], message_type: type[_M]
) -> list[_M]:
    """:meth:`SealedRecords.events` once."""
    sealed = SealedRecords()
    try:
        return await sealed.events(records, message_type)
    finally:
        sealed.close()


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


def erasure_order(
    kind: SubjectKind.ValueType,
    subject_id: str,
    *,
    device_ids: Sequence[str] = (),
    account_ids: Sequence[str] = (),
) -> ErasureOrdered:
    """An order as the privacy service sends it (a fresh request id, attempt 1)."""
    return ErasureOrdered(
        request_id=str(uuid.uuid4()),
        subject_kind=kind,
        subject_id=subject_id,
        device_ids=list(device_ids),
        account_ids=list(account_ids),
        attempt=1,
    )


async def apply_erasure(
    participant: str, erase: Erase, order: ErasureOrdered, settings: KafkaSettings | None = None
) -> dict[str, StoreErased]:
    """Apply ``order`` through the service's :class:`ErasureParticipant` (its acknowledgement
    is published to the real acks topic) and return what each store did, by store name."""
    kafka = settings or KafkaSettings()
    publisher = EventPublisher.create(kafka, source="/tests/erasure")
    await publisher.start()
    try:
        ack = await ErasureParticipant(
            settings=kafka,
            participant=participant,
            erase=erase,
            publisher=publisher,
            group_id=f"tests-erasure-{uuid.uuid4().hex[:8]}",  # never started: apply only
        ).apply(order)
    finally:
        await publisher.stop()
    assert ack.participant == participant and ack.request_id == order.request_id
    stores = {s.store: s for s in ack.stores}
    assert len(stores) == len(ack.stores), "a store acknowledged twice"
    return stores


def deleted_counts(stores: dict[str, StoreErased]) -> dict[str, int]:
    return {name: s.deleted for name, s in stores.items()}


async def records_at(
    settings: KafkaSettings, topic: str, places: Sequence[tuple[int, int]]
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records at these (partition, offset) places of ``topic``, in that order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        found = []
        for partition, offset in places:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            found.append(await asyncio.wait_for(consumer.getone(tp), 30))
        return found
    finally:
        await consumer.stop()


def tombstoned_keys(records: Sequence[ConsumerRecord[bytes, bytes]]) -> set[str]:
    """The keys of the tombstones among ``records``."""
    return {r.key.decode() for r in records if r.value is None and r.key is not None}


async def acknowledgement(
    settings: KafkaSettings,
    request_id: str,
    participant: str,
    since: dict[TopicPartition, int],
    *,
    within: float = 60,
) -> ErasureAcknowledged:
    """The first acknowledgement of ``request_id`` by ``participant`` on the acks topic after
    the ``since`` offsets (taken with :func:`end_offsets` before the order was published)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        consumer.assign(list(since))
        for tp, offset in since.items():
            consumer.seek(tp, offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    if record.key != request_id.encode() or record.value is None:
                        continue
                    ack = ErasureAcknowledged.FromString(record.value)
                    if ack.participant == participant:
                        return ack
        raise TimeoutError(f"no acknowledgement by {participant} within {within} s")
    finally:
        await consumer.stop()


async def publish_accounts(retentions: dict[str, AccountRetention]) -> None:
    """What identity publishes for these accounts (no tree): each with its retention."""
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        for account_id, retention in retentions.items():
            await publisher.publish(
                "identity.accounts.v1",
                AccountChanged(account_id=account_id, retention=retention),
                key=account_id,
            )
    finally:
        await publisher.stop()


async def until(condition: Callable[[], bool], what: str, within: float = 30) -> None:
    """Poll ``condition`` (something that arrives through Kafka) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


#: erasure bounds scaled from hours to seconds: what the broker then does within seconds is what
#: the certificate's bound (``Topic.erasure_bound_ms``) promises within hours
SCALED_COMPACTED = {
    "segment.ms": "1000",
    "max.compaction.lag.ms": "1000",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "1000",
}
SCALED_DELETE = {"segment.ms": "1000", "retention.ms": "2000"}


@contextlib.asynccontextmanager
async def erasure_bounds_elapsing(
    settings: KafkaSettings, topics: Sequence[catalog.Topic]
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """``topics`` (the platform's, on the real broker) with their segment, retention and
    compaction timings scaled to seconds, as if their erasure bounds had elapsed: the broker's
    own retention and cleaner then remove what the bounds promise they remove. Yields ``roll``,
    which appends the privacy service's roll markers to every partition (a quiet partition
    rolls its segment only when a record arrives). The catalog's configs are put back on exit.

    Retention removes every subject's expired records of a delete-policy topic, not only the
    erased one's: that is what the bound relies on. Compaction keeps every key's latest value."""
    client = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await client.start()
    publisher = EventPublisher.create(settings, source="/tests/erasure-bounds")
    await publisher.start()
    try:
        scaled = [
            ConfigResource(
                ConfigResourceType.TOPIC,
                t.name,
                {
                    **t.configs(),
                    **(
                        SCALED_DELETE
                        if t.cleanup_policy is catalog.CleanupPolicy.DELETE
                        else SCALED_COMPACTED
                    ),
                },
            )
            for t in topics
        ]
        await client.alter_configs(scaled)

        async def roll() -> int:
            return await append_roll_markers(publisher, [t.name for t in topics])

        yield roll
    finally:
        await publisher.stop()
        await client.close()
        await admin.ensure_topics(settings, tuple(topics))  # the catalog's configs again
