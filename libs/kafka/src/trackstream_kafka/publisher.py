"""Publishing events: protobuf value, CloudEvents headers, pseudonymous key, durable on return."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.structs import RecordMetadata
from google.protobuf.message import Message
from opentelemetry import trace

from trackstream_events.envelope import Envelope, uuid7
from trackstream_events.registry import type_name
from trackstream_kafka.sealing import SEALED_HEADER, DataKeys, SubjectShredded, seal
from trackstream_kafka.settings import KafkaSettings
from trackstream_obs.metrics import EVENTS_PUBLISHED, PUBLISH_FAILURES, PUBLISH_SECONDS
from trackstream_obs.tracing import current_traceparent, trace_this

_tracer = trace.get_tracer("trackstream.kafka")
_DEFAULT_PARTITIONER = DefaultPartitioner()
#: topic, key, value, headers
_Record = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]
#: from this many records for one partition in one call, they go to Kafka as one batch built
#: here (``create_batch``/``send_batch``: no coroutine, future or partitioner call per record);
#: fewer go through ``send``, whose open batch lingers and collects concurrent callers' records
BATCH_FROM_RECORDS = 8


@functools.cache
def _published(topic: str, event_type: str) -> Any:
    return EVENTS_PUBLISHED.labels(topic, event_type)


@functools.cache
def _publish_seconds(topic: str) -> Any:
    return PUBLISH_SECONDS.labels(topic)


async def _settled(ack: asyncio.Future[object]) -> object:
    try:
        return await ack
    except Exception as err:  # reported like gather(return_exceptions=True)
        return err


class PublishError(Exception):
    """Kafka did not acknowledge the event within the delivery timeout: it may or may not be
    stored, so the caller must not acknowledge its own input (the device will retransmit)."""


class SubjectErased(PublishError):
    """An event for a sealed topic whose subject's data key was destroyed (the subject was
    erased): nothing of the call was sent. A device still reporting after its erasure."""


@dataclass(slots=True)
class Outgoing:
    """One event to publish. ``event_id`` makes ``ce_id`` deterministic (a retransmission after
    a crash then carries the same id, which consumers can deduplicate on). Built once per event
    on the ingest path, so a plain (not frozen) dataclass: treat it as read-only."""

    topic: str
    event: Message
    key: str
    time: datetime | None = None
    cause: Envelope | None = None
    event_id: str | None = None


class CachedPartitioner:
    """Kafka's default key partitioning (murmur2, as the Java client), remembered per key:
    the same devices publish again and again, and aiokafka's murmur2 is pure Python."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._cache: dict[tuple[bytes, int], int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return _DEFAULT_PARTITIONER(key, all_partitions, available)  # type: ignore[no-any-return]
        slot = (key, len(all_partitions))
        partition = self._cache.get(slot)
        if partition is None:
            if len(self._cache) >= self._max_keys:
                self._cache.clear()
            partition = self._cache[slot] = all_partitions[
                (murmur2(key) & 0x7FFFFFFF) % len(all_partitions)
            ]
        return partition


def make_producer(
    settings: KafkaSettings, *, client_id: str, partitioner: CachedPartitioner | None = None
) -> AIOKafkaProducer:
    """An idempotent producer (acks=all): its own retries after a broker restart or a leader
    change never write a record twice, and per-key order holds."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_size,
        compression_type=settings.compression_type,
        request_timeout_ms=settings.delivery_timeout_ms,
        retry_backoff_ms=200,
        partitioner=partitioner or CachedPartitioner(),
    )


class EventPublisher:
    """Publishes protobuf events with an envelope; returns once Kafka acknowledged them.

    With ``data_keys``, events for a sealed topic (catalog ``sealed``) have their personal fields
    sealed under their subject's key (``trackstream_kafka.sealing``); a subject whose key was
    destroyed raises :class:`SubjectErased` (a :class:`PublishError`) and nothing is sent.
    Every service that publishes to a sealed topic passes them (its bootstrap)."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        *,
        source: str,
        partitioner: CachedPartitioner | None = None,
        data_keys: DataKeys | None = None,
    ) -> None:
        self._producer = producer
        self._source = source
        self.data_keys = data_keys
        #: the producer's own key partitioning (records batched here must land where ``send``
        #: would put them: Kafka's default murmur2, which any producer of ours uses)
        self._partitioner = partitioner or CachedPartitioner()

    @classmethod
    def create(
        cls, settings: KafkaSettings, *, source: str, data_keys: DataKeys | None = None
    ) -> EventPublisher:
        client_id = source.strip("/").replace("/", "-")
        partitioner = CachedPartitioner()
        producer = make_producer(settings, client_id=client_id, partitioner=partitioner)
        return cls(producer, source=source, partitioner=partitioner, data_keys=data_keys)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        """Flushes what is in flight, then closes."""
        await self._producer.stop()

    async def publish(
        self,
        topic: str,
        event: Message,
        *,
        key: str,
        time_: datetime | None = None,
        cause: Envelope | None = None,
    ) -> Envelope:
        """Send ``event`` keyed by ``key`` (a pseudonymous id) and wait for Kafka's ack."""
        [envelope] = await self.publish_many([Outgoing(topic, event, key, time_, cause)])
        return envelope

    async def publish_many(
        self, items: Sequence[Outgoing], *, as_batches: bool = False
    ) -> list[Envelope]:
        """Enqueue every event in order, then wait for all acks: per-key order holds and the
        acknowledgements overlap. Raises :class:`PublishError` if any was not acknowledged.

        ``as_batches``: each partition's records go as batches built here and sent at once,
        however few (no linger), for a caller that gathers records itself
        (:class:`~trackstream_kafka.coalescing.CoalescingPublisher`); otherwise only from
        :data:`BATCH_FROM_RECORDS` records for a partition."""
        if not items:
            return []
        batch_from = 1 if as_batches else BATCH_FROM_RECORDS
        if trace_this():
            with _tracer.start_as_current_span(
                f"publish {items[0].topic}", kind=trace.SpanKind.PRODUCER
            ):
                envelopes = await self._publish(items, *current_traceparent(), batch_from)
        else:
            envelopes = await self._publish(items, None, None, batch_from)
        if len(items) == 1:
            _published(items[0].topic, envelopes[0].type).inc()
        else:  # one increment per kind: each takes the metric's lock
            for (topic, event_type), n in Counter(
                (item.topic, envelope.type) for item, envelope in zip(items, envelopes, strict=True)
            ).items():
                _published(topic, event_type).inc(n)
        return envelopes

    async def _publish(
        self,
        items: Sequence[Outgoing],
        traceparent: str | None,
        tracestate: str | None,
        batch_from: int,
    ) -> list[Envelope]:
        now = datetime.now(UTC)  # one publishing time for the call (one ce_time to format)
        envelopes = [self._envelope(item, traceparent, tracestate, now) for item in items]
        keys = self.data_keys
        sealed = [keys is not None and keys.seals(item.topic) for item in items]
        if not any(sealed):
            records: list[_Record] = [
                (item.topic, item.key.encode(), item.event.SerializeToString(), env.to_headers())
                for item, env in zip(items, envelopes, strict=True)
            ]
        else:
            assert keys is not None
            try:
                data_keys = await keys.for_sealing(
                    {item.key for item, seals in zip(items, sealed, strict=True) if seals}
                )
            except SubjectShredded as err:
                raise SubjectErased(f"{items[0].topic}: {err}") from err
            records = []
            for item, env, seals in zip(items, envelopes, sealed, strict=True):
                record_key, headers = item.key.encode(), env.to_headers()
                if seals:
                    value, header = seal(
                        item.event,
                        topic=item.topic,
                        record_key=record_key,
                        event_id=env.id.encode(),
                        key=data_keys[item.key],
                    )
                    headers.append((SEALED_HEADER, header))
                else:
                    value = item.event.SerializeToString()
                records.append((item.topic, record_key, value, headers))
        await self._send_records(records, batch_from=batch_from)
        return envelopes

    async def publish_records(
        self, topic: str, records: Sequence[tuple[str, bytes | None]]
    ) -> None:
        """Key/value records as they are, without an envelope, all acknowledged on return: for
        a service's internal changelog (its own state, read back only by itself), where the
        per-event envelope would cost more than the record."""
        await self._send_records([(topic, key.encode(), value, []) for key, value in records])

    async def publish_tombstone(self, topic: str, *, key: str) -> None:
        """A null value for ``key``: on a compacted topic it erases every earlier record."""
        await self._send_records([(topic, key.encode(), None, [])])

    async def publish_tombstones(self, topic: str, keys: Sequence[str]) -> list[tuple[int, int]]:
        """Tombstones for ``keys``, all acknowledged on return; their (partition, offset) each,
        in order, for an erasure certificate."""
        results = await self._send_records(
            [(topic, key.encode(), None, []) for key in keys], one_by_one=True
        )
        return [(r.partition, r.offset) for r in results if isinstance(r, RecordMetadata)]

    async def publish_tombstone_to_every_partition(
        self, topic: str, *, key: str
    ) -> list[tuple[int, int]]:
        """A tombstone for ``key`` in each partition of ``topic`` (not where the key hashes):
        an append to every partition, which is when Kafka rolls a segment that has outlived
        its ``segment.ms`` / ``max.compaction.lag.ms``. (partition, offset) of each."""
        partitions = sorted(await self._producer.partitions_for(topic))
        acks = [
            await self._producer.send(topic, key=key.encode(), value=None, partition=p)
            for p in partitions
        ]
        results = [await ack for ack in acks]
        return [(r.partition, r.offset) for r in results]

    async def publish_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Forward a record as it is (dead letters keep the original bytes and headers)."""
        await self._send_records([(topic, key, value, headers)])

    def _envelope(
        self, item: Outgoing, traceparent: str | None, tracestate: str | None, now: datetime
    ) -> Envelope:
        cause = item.cause
        return Envelope(
            type=type_name(item.event),
            source=self._source,
            subject=item.key,
            id=item.event_id or uuid7(),
            time=item.time or now,
            traceparent=traceparent,
            tracestate=tracestate,
            correlation_id=(cause.correlation_id or cause.id) if cause else None,
            causation_id=cause.id if cause else None,
        )

    async def _send_records(
        self,
        records: Sequence[_Record],
        *,
        one_by_one: bool = False,
        batch_from: int = BATCH_FROM_RECORDS,
    ) -> list[object]:
        """Every record acknowledged on return; the results are one per future: one per record
        with ``one_by_one`` (or below the batching size), else one per batch of a partition."""
        started = time.perf_counter()
        acks: list[asyncio.Future[object]] = []
        try:
            await self._enqueue(records, acks, one_by_one=one_by_one, batch_from=batch_from)
            if len(acks) == 1:  # the common case: no gather machinery for one future
                results: list[object] = [await _settled(acks[0])]
            else:
                results = await asyncio.gather(*acks, return_exceptions=True)
        except KafkaError as err:
            for topic, *_ in records:
                PUBLISH_FAILURES.labels(topic).inc()
            raise PublishError(f"{records[0][0]}: not acknowledged: {err!r}") from err
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            for topic, *_ in records:
                PUBLISH_FAILURES.labels(topic).inc()
            raise PublishError(f"{records[0][0]}: not acknowledged: {failures[0]!r}") from failures[
                0
            ]
        _publish_seconds(records[0][0]).observe(time.perf_counter() - started)
        return results

    async def _enqueue(
        self,
        records: Sequence[_Record],
        acks: list[asyncio.Future[object]],
        *,
        one_by_one: bool = False,
        batch_from: int = BATCH_FROM_RECORDS,
    ) -> None:
        """Hand every record to the producer, in order per partition; one future per record
        sent alone, one per batch (a partition's records from ``batch_from`` of them)."""
        producer = self._producer
        if one_by_one or len(records) < batch_from:
            for topic, key, value, headers in records:
                acks.append(await producer.send(topic, value=value, key=key, headers=headers))
            return
        # group by partition, keeping the order of each partition's records
        groups: dict[tuple[str, int], list[_Record]] = {}
        partitions: dict[str, list[int]] = {}
        unkeyed: list[_Record] = []
        for record in records:
            topic, key = record[0], record[1]
            if key is None:
                unkeyed.append(record)  # a random partition: the producer chooses
                continue
            all_partitions = partitions.get(topic)
            if all_partitions is None:
                all_partitions = partitions[topic] = sorted(await producer.partitions_for(topic))
            partition = self._partitioner(key, all_partitions, all_partitions)
            group = groups.get((topic, partition))
            if group is None:
                groups[(topic, partition)] = [record]
            else:
                group.append(record)
        for (topic, partition), group in groups.items():
            if len(group) < batch_from:
                for _, key, value, headers in group:
                    acks.append(
                        await producer.send(
                            topic, value=value, key=key, partition=partition, headers=headers
                        )
                    )
                continue
            batch = producer.create_batch()
            for _, key, value, headers in group:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    # full: send it, and start the next (an empty batch takes any record)
                    batch.close()
                    acks.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
            batch.close()
            acks.append(await producer.send_batch(batch, topic, partition=partition))
        for topic, key, value, headers in unkeyed:
            acks.append(await producer.send(topic, value=value, key=key, headers=headers))
