"""Kafka: every topic the broker lists, from the earliest offset to the end taken at scan start.

Partitions are assigned by hand (no consumer group, nothing committed), seeked to their
beginning offsets and read until their position reaches the end offset noted when the scan
started; records written after that are someone else's scan. Keys, values (a tombstone has none)
and header values are searched; every fetched batch is one buffer for the matcher.

A sealed record (``ts-sealed`` header) is opened with its subject's data key when an ``opener``
is given (``trackstream_residual_scan.sealed``); the plaintext is searched as the field
``sealed``. Without the key (after an erasure) the header is only searched as bytes.

Internal topics (``__consumer_offsets``, ``__transaction_state`` and other ``__`` names) hold
offsets and transaction states, not events; they are skipped unless asked for, and listed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from trackstream_kafka.settings import KafkaSettings
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.report import Hit, HitCollector
from trackstream_residual_scan.sealed import SealedOpener

log = logging.getLogger(__name__)


#: how often a long scan says how far it got
_PROGRESS_EVERY_S = 30.0


class KafkaScanError(Exception):
    pass


@dataclass(slots=True)
class PartitionCoverage:
    topic: str
    partition: int
    #: the partition's log start and end offsets when the scan started
    start_offset: int
    end_offset: int
    records: int = 0
    bytes: int = 0
    #: the first offset actually read (later than start_offset if retention deleted records
    #: while the scan ran), None when nothing was read
    first_offset_read: int | None = None
    vanished: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "partition": self.partition,
            "start_offset": self.start_offset,
            "end_offset": self.end_offset,
            "records": self.records,
            "bytes": self.bytes,
            "first_offset_read": self.first_offset_read,
            "vanished": self.vanished,
        }


@dataclass(slots=True)
class KafkaScan:
    hits: list[Hit]
    partitions: list[PartitionCoverage]
    skipped_internal_topics: list[str]
    seconds: float
    notes: list[str] = field(default_factory=list)
    #: sealed records opened / left opaque (None: no opener, headers searched as bytes only)
    sealed: dict[str, int] | None = None

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)

    def as_json(self) -> dict[str, object]:
        topics: dict[str, list[dict[str, object]]] = {}
        for coverage in sorted(self.partitions, key=lambda p: (p.topic, p.partition)):
            topics.setdefault(coverage.topic, []).append(coverage.as_json())
        return {
            "topics": topics,
            "topic_count": len(topics),
            "skipped_internal_topics": self.skipped_internal_topics,
            "records": self.records,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "records_per_s": _rate(self.records, self.seconds),
            "mb_per_s": _rate(self.bytes / 1e6, self.seconds),
            "hits": len(self.hits),
            "notes": self.notes,
            "sealed": self.sealed,
        }


def _rate(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


def _is_internal(topic: str, internal: set[str]) -> bool:
    return topic in internal or topic.startswith("__")


async def scan_kafka(
    settings: KafkaSettings,
    matcher: Matcher,
    *,
    topics: Sequence[str] = (),
    topic_pattern: str | None = None,
    include_internal: bool = False,
    stall_timeout_s: float = 60.0,
    opener: SealedOpener | None = None,
) -> KafkaScan:
    """Scan ``topics`` (default: every topic of the cluster), or those matching
    ``topic_pattern`` (a regular expression searched in the name)."""
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="residual-scan",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
    )
    try:
        await consumer.start()
    except Exception as err:
        raise KafkaScanError(
            f"Kafka at {settings.bootstrap_servers} is unreachable: {err}"
        ) from err
    try:
        metadata = await consumer._client.fetch_all_metadata()
        listed = set(metadata.topics(exclude_internal_topics=False))
        internal = set(metadata.internal_topics)
        missing = sorted(set(topics) - listed)
        if missing:
            raise KafkaScanError(f"no such topics on the broker: {missing}")
        chosen = sorted(topics) if topics else sorted(listed)
        if topic_pattern is not None:
            name_filter = re.compile(topic_pattern)
            chosen = [t for t in chosen if name_filter.search(t)]
        skipped = [] if include_internal else [t for t in chosen if _is_internal(t, internal)]
        chosen = [t for t in chosen if t not in skipped]
        partitions = [
            TopicPartition(topic, p)
            for topic in chosen
            for p in sorted(metadata.partitions_for_topic(topic) or ())
        ]
        coverage = await _offsets(consumer, partitions)
        log.info(
            "kafka scan started",
            extra={"topics": len(chosen), "partitions": len(partitions), "skipped": len(skipped)},
        )
        hits = HitCollector("kafka")
        await _read(consumer, matcher, coverage, hits, stall_timeout_s, opener)
    finally:
        await consumer.stop()
    result = KafkaScan(
        hits.hits(),
        list(coverage.values()),
        skipped,
        time.monotonic() - started,
        sealed=opener.counts.as_json() if opener is not None else None,
    )
    vanished = sorted({c.topic for c in result.partitions if c.vanished})
    if vanished:
        result.notes.append(f"topics deleted while the scan ran: {vanished}")
    return result


async def _offsets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, PartitionCoverage]:
    if not partitions:
        return {}
    begin = await consumer.beginning_offsets(partitions)
    end = await consumer.end_offsets(partitions)
    return {tp: PartitionCoverage(tp.topic, tp.partition, begin[tp], end[tp]) for tp in partitions}


async def _read(
    consumer: AIOKafkaConsumer,
    matcher: Matcher,
    coverage: dict[TopicPartition, PartitionCoverage],
    hits: HitCollector,
    stall_timeout_s: float,
    opener: SealedOpener | None = None,
) -> None:
    pending = {tp for tp, c in coverage.items() if c.end_offset > c.start_offset}
    if not pending:
        return
    consumer.assign(sorted(pending))
    for tp in pending:
        consumer.seek(tp, coverage[tp].start_offset)
    loop = asyncio.get_running_loop()
    last_progress = last_report = loop.time()
    while pending:
        if loop.time() - last_report > _PROGRESS_EVERY_S:
            last_report = loop.time()
            log.info(
                "kafka scan progress",
                extra={
                    "records": sum(c.records for c in coverage.values()),
                    "partitions_left": len(pending),
                },
            )
        batch = await consumer.getmany(timeout_ms=1000)
        # flat lists, no tuple per field: a batch holds ~10^5 fields, and allocating a container
        # for each made the garbage collector cost more than the search
        records: list[ConsumerRecord[bytes, bytes]] = []
        owners: list[int] = []
        slots: list[int] = []
        parts: list[bytes] = []
        for tp, fetched in batch.items():
            c = coverage[tp]
            for record in fetched:
                if record.offset >= c.end_offset:
                    break  # written after the scan started
                if c.first_offset_read is None:
                    c.first_offset_read = record.offset
                c.records += 1
                c.bytes += _record_fields(len(records), record, owners, slots, parts)
                if opener is not None:
                    opened = opener.open(record.topic, record.key, record.headers)
                    if opened is not None:
                        parts.append(opened)
                        owners.append(len(records))
                        slots.append(_SEALED)
                records.append(record)
        if parts:
            for index, _offset, pattern in matcher.find_in_parts(parts):
                record = records[owners[index]]
                location = (
                    ("topic", record.topic),
                    ("partition", record.partition),
                    ("offset", record.offset),
                )
                hits.add(location, matcher.redact(_field_name(record, slots[index])), pattern)
        done = [tp for tp in pending if await consumer.position(tp) >= coverage[tp].end_offset]
        if batch or done:
            last_progress = loop.time()
        if done:
            consumer.pause(*done)
            pending.difference_update(done)
        elif loop.time() - last_progress > stall_timeout_s:
            await _drop_vanished(consumer, coverage, pending)
            if pending:
                raise KafkaScanError(
                    f"{len(pending)} partitions made no progress for {stall_timeout_s:.0f} s "
                    f"(first: {sorted(pending)[0]})"
                )
        elif not batch and loop.time() - last_progress > min(10.0, stall_timeout_s / 2):
            await _drop_vanished(consumer, coverage, pending)


#: a part's slot: the key, the value, or header i's value (2 + 2i) or name (3 + 2i); -1 the
#: opened plaintext of the sealed header
_KEY, _VALUE, _HEADERS, _SEALED = 0, 1, 2, -1


def _record_fields(
    owner: int,
    record: ConsumerRecord[bytes, bytes],
    owners: list[int],
    slots: list[int],
    parts: list[bytes],
) -> int:
    """Append the record's searchable parts; returns the size of its key, value and headers."""
    size = 0
    if record.key is not None:
        parts.append(record.key)
        owners.append(owner)
        slots.append(_KEY)
        size += len(record.key)
    if record.value is not None:  # a tombstone has no value
        parts.append(record.value)
        owners.append(owner)
        slots.append(_VALUE)
        size += len(record.value)
    for i, (name, value) in enumerate(record.headers):
        parts.append(name.encode())
        parts.append(value or b"")
        owners.append(owner)
        owners.append(owner)
        slots.append(_HEADERS + 2 * i + 1)
        slots.append(_HEADERS + 2 * i)
        size += len(value or b"")
    return size


def _field_name(record: ConsumerRecord[bytes, bytes], slot: int) -> str:
    if slot == _KEY:
        return "key"
    if slot == _VALUE:
        return "value"
    if slot == _SEALED:
        return "sealed"
    name = record.headers[(slot - _HEADERS) // 2][0]
    return f"header:{name}" if (slot - _HEADERS) % 2 == 0 else f"header-name:{name}"


async def _drop_vanished(
    consumer: AIOKafkaConsumer,
    coverage: dict[TopicPartition, PartitionCoverage],
    pending: set[TopicPartition],
) -> None:
    """Partitions of topics deleted while the scan ran: nothing is left to read there."""
    metadata = await consumer._client.fetch_all_metadata()
    listed = set(metadata.topics(exclude_internal_topics=False))
    gone = [tp for tp in pending if tp.topic not in listed]
    for tp in gone:
        coverage[tp].vanished = True
        pending.discard(tp)
    if gone:
        consumer.pause(*gone)
