"""Consuming events: commit only after the handler succeeded; poison messages to the dead letters.

For each record the loop decodes the envelope and the protobuf value and calls the handler.

* The handler returned: the record counts as done.
* The handler raised :class:`RetryableError` (a store is briefly down): the same record is retried
  with backoff, and nothing after it in the partition is committed meanwhile.
* The handler raised anything else, or the record cannot be decoded: the record goes, unchanged,
  to ``<topic>.dlq`` with the reason in headers, and the loop moves on.
* A ``ce_type`` this consumer does not know is skipped and counted (consumers are deployed first),
  and so is a tombstone (a null value on a compacted topic), under its own outcome: tombstones are
  expected (every finished erasure leaves some), an unknown type means a producer is too new.

Offsets are committed per batch, after every record in it is done or dead-lettered, so a crash
replays at most one batch (at-least-once): handlers must be idempotent.

With ``batch_handler`` instead of ``handler`` the decoded records of a poll are handed over
together (a store can then write them concurrently). :class:`RetryableError` retries the whole
batch; any other error makes the loop hand the records over one by one, so only the poison one
is dead-lettered. ``stop()`` lets the batch
in hand finish and commits it before the consumer leaves the group.

Sealed records (``trackstream_kafka.sealing``) are opened here, before any handler sees them:
the consumer is given the process's ``data_keys`` (required when it reads a topic the catalog
marks sealed), looks up the keys of a fetch together, and merges the sealed fields back into the
message. A record whose key is missing or destroyed (its subject was erased) never reaches a
handler: it is skipped and counted as ``skipped_shredded``, so a replay from offset 0 does not
bring the subject back. A sealed header that does not authenticate is a poison message. A record
without the header on a sealed topic (published before sealing) is handed over as it is.

A stateful consumer passes a ``rebalance_listener`` (aiokafka's ``ConsumerRebalanceListener``):
it learns which partitions it gains and loses, before records of a gained partition are handed
over. A commit refused because the group rebalanced meanwhile is logged, not fatal: the new
owner of the partitions sees the batch again (at-least-once, as after a crash).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from google.protobuf.message import DecodeError, Message
from opentelemetry import context, trace

from trackstream_events.envelope import Envelope, InvalidEnvelope
from trackstream_events.registry import EventRegistry, UndecodableEvent, UnknownEventType
from trackstream_kafka.publisher import EventPublisher
from trackstream_kafka.sealing import (
    DataKeys,
    OpenKeys,
    SealingError,
    Shredded,
    catalog_seals,
    keys_for_records,
    open_record,
)
from trackstream_kafka.settings import KafkaSettings
from trackstream_obs.metrics import EVENTS_CONSUMED, HANDLE_SECONDS
from trackstream_obs.tracing import extract_context

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("trackstream.kafka")


class RetryableError(Exception):
    """A temporary failure: retry the same record later, do not dead-letter it."""


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    envelope: Envelope
    message: Message
    key: str
    topic: str
    partition: int
    offset: int


Handler = Callable[[ConsumedEvent], Awaitable[None]]
BatchHandler = Callable[[list[ConsumedEvent]], Awaitable[None]]


class _PoisonMessage(Exception):
    pass


_NO_KEYS: OpenKeys = {}


def _skipped(record: ConsumerRecord) -> str:
    """The outcome of a record skipped undecoded: a tombstone, or a type this consumer does not
    know (the alert on the latter must not fire at every erasure)."""
    return "skipped_tombstone" if record.value is None else "skipped_unknown_type"


class EventConsumer:
    def __init__(
        self,
        *,
        settings: KafkaSettings,
        group_id: str,
        topics: list[str],
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        registry: EventRegistry,
        dead_letters: EventPublisher,
        retry_backoff_s: float = 0.5,
        max_retry_backoff_s: float = 10.0,
        rebalance_listener: ConsumerRebalanceListener | None = None,
        auto_offset_reset: str = "earliest",
        data_keys: DataKeys | None = None,
    ) -> None:
        if data_keys is None and any(catalog_seals(t) for t in topics):
            raise ValueError(
                f"{group_id}: {[t for t in topics if catalog_seals(t)]} are sealed: "
                "give the consumer the process's data_keys (trackstream_kafka.sealing)"
            )
        self._data_keys = data_keys
        self._settings = settings
        self._group = group_id
        self._topics = topics
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler and batch_handler")
        self._handler: Handler = handler or self._one_of_batch
        self._batch_handler = batch_handler
        self._registry = registry
        self._dead_letters = dead_letters
        self._retry_backoff_s = retry_backoff_s
        self._max_retry_backoff_s = max_retry_backoff_s
        self._stopping = asyncio.Event()
        self._listener = rebalance_listener
        self._consumer = AIOKafkaConsumer(
            *(topics if rebalance_listener is None else ()),
            bootstrap_servers=settings.bootstrap_servers,
            group_id=group_id,
            client_id=group_id,
            enable_auto_commit=False,
            # where a group without committed offsets starts ("latest": only what comes next)
            auto_offset_reset=auto_offset_reset,
            isolation_level="read_committed",
            max_poll_records=settings.max_poll_records,
            session_timeout_ms=settings.session_timeout_ms,
        )

    async def start(self) -> None:
        if self._listener is not None:
            self._consumer.subscribe(self._topics, listener=self._listener)
        await self._consumer.start()

    async def positions(self) -> dict[TopicPartition, int]:
        """The next offset to consume of every assigned partition; waits until each is known
        (for a group without committed offsets: until ``auto_offset_reset`` resolved it)."""
        return {tp: await self._consumer.position(tp) for tp in self._consumer.assignment()}

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it, and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Consume until :meth:`stop`; leaves the group on the way out."""
        try:
            while not self._stopping.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=self._settings.poll_timeout_ms,
                    max_records=self._settings.max_poll_records,
                )
                if not batch:
                    continue
                offsets: dict[TopicPartition, int] = {}
                keys = await self._open_keys(batch.values())
                if self._batch_handler is not None:
                    await self._process_batch(
                        [r for records in batch.values() for r in records], keys
                    )
                    offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
                else:
                    for tp, records in batch.items():
                        for record in records:
                            await self._process(record, keys)
                            offsets[tp] = record.offset + 1
                try:
                    await self._consumer.commit(offsets)
                except (CommitFailedError, IllegalStateError) as err:
                    # the group rebalanced: the partitions' new owner replays this batch
                    log.warning("commit refused after a rebalance", extra={"reason": str(err)})
        finally:
            await self._consumer.stop()

    async def _open_keys(self, fetched: Any) -> OpenKeys:
        """The data keys the fetch's sealed records need, looked up together."""
        return await keys_for_records(self._data_keys, fetched)

    async def _one_of_batch(self, event: ConsumedEvent) -> None:
        assert self._batch_handler is not None
        await self._batch_handler([event])

    async def _process_batch(self, records: list[ConsumerRecord], keys: OpenKeys) -> None:
        events: list[ConsumedEvent] = []
        handled: list[ConsumerRecord] = []
        for record in records:
            try:
                events.append(self._decode(record, keys))
                handled.append(record)
            except UnknownEventType:
                EVENTS_CONSUMED.labels(record.topic, self._group, _skipped(record)).inc()
            except Shredded:
                EVENTS_CONSUMED.labels(record.topic, self._group, "skipped_shredded").inc()
            except _PoisonMessage as poison:
                await self._dead_letter(record, str(poison.__cause__ or poison), poison.__cause__)
        if not events:
            return
        assert self._batch_handler is not None
        backoff = self._retry_backoff_s
        while True:
            started = time.perf_counter()
            try:
                await self._batch_handler(events)
            except RetryableError as err:
                log.warning("batch handler asked for a retry", extra={"reason": str(err)})
                if self._stopping.is_set():
                    raise  # uncommitted: the next owner of the partitions retries
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_retry_backoff_s)
                continue
            except Exception:
                # find the poison record: one by one, the usual per-record rules apply
                for record in handled:
                    await self._process(record, keys)
                return
            finally:
                HANDLE_SECONDS.labels(records[0].topic, self._group).observe(
                    time.perf_counter() - started
                )
            handled_per_topic = Counter(event.topic for event in events)
            for topic, count in handled_per_topic.items():
                EVENTS_CONSUMED.labels(topic, self._group, "handled").inc(count)
            return

    async def _process(self, record: ConsumerRecord, keys: OpenKeys = _NO_KEYS) -> None:
        topic = record.topic
        try:
            event = self._decode(record, keys)
        except UnknownEventType:
            EVENTS_CONSUMED.labels(topic, self._group, _skipped(record)).inc()
            return
        except Shredded:
            EVENTS_CONSUMED.labels(topic, self._group, "skipped_shredded").inc()
            return
        except _PoisonMessage as poison:
            await self._dead_letter(record, str(poison.__cause__ or poison), poison.__cause__)
            return
        backoff = self._retry_backoff_s
        parent = extract_context(record.headers)
        while True:
            token = context.attach(parent)
            started = time.perf_counter()
            try:
                with _tracer.start_as_current_span(
                    f"consume {topic}", kind=trace.SpanKind.CONSUMER
                ):
                    await self._handler(event)
            except RetryableError as err:
                log.warning("handler asked for a retry", extra={"topic": topic, "reason": str(err)})
                if self._stopping.is_set():
                    raise  # leave it uncommitted: the next owner of the partition retries
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_retry_backoff_s)
                continue
            except Exception as err:
                await self._dead_letter(record, f"{type(err).__name__}: {err}", err)
                return
            finally:
                context.detach(token)
                HANDLE_SECONDS.labels(topic, self._group).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(topic, self._group, "handled").inc()
            return

    def _decode(self, record: ConsumerRecord, keys: OpenKeys = _NO_KEYS) -> ConsumedEvent:
        if record.value is None:  # a tombstone: compaction's business, not an event
            raise UnknownEventType("tombstone")
        key = (record.key or b"").decode("utf-8", "replace")
        try:
            envelope = Envelope.from_headers(record.headers)
            message = self._registry.decode(envelope.type, record.value or b"")
            open_record(message, record, envelope.id, keys, self._data_keys)
        except (UnknownEventType, Shredded):
            raise
        except (InvalidEnvelope, UndecodableEvent, SealingError, DecodeError) as err:
            raise _PoisonMessage() from err
        return ConsumedEvent(
            envelope=envelope,
            message=message,
            key=key,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    async def _dead_letter(
        self, record: ConsumerRecord, reason: str, err: BaseException | None
    ) -> None:
        detail = "".join(traceback.format_exception(err)) if err else reason
        headers = [
            *list(record.headers or ()),
            ("dlq_reason", reason.encode()[:1000]),
            ("dlq_error_type", type(err).__name__.encode() if err else b"PoisonMessage"),
            ("dlq_stacktrace", detail.encode()[-4000:]),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self._group.encode()),
        ]
        # If this raises, the batch is not committed and the record is seen again: nothing lost.
        await self._dead_letters.publish_raw(
            f"{record.topic}.dlq", key=record.key, value=record.value, headers=headers
        )
        log.error(
            "record dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason[:200]},
        )
        EVENTS_CONSUMED.labels(record.topic, self._group, "dead_lettered").inc()
