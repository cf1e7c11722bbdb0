"""Following topics outside any consumer group (every instance sees every record), sealed
records opened on the way: the gateway's live, inbox and command feeds."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import ConsumerRecord
from google.protobuf.message import Message

from trackstream_events.envelope import Envelope
from trackstream_kafka.sealing import DataKeys, Shredded, keys_for_records, open_record
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import reader_of
from trackstream_obs.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)

#: opens a sealed record's fields into its decoded value (a no-op for a plain record)
Opener = Callable[[Message], None]
#: what a follower does with one record: its envelope, and the opener for its value
RecordHandler = Callable[[ConsumerRecord[bytes, bytes], Envelope, Opener], None]


async def follow(
    settings: KafkaSettings,
    topics: Sequence[str],
    handle: RecordHandler,
    stopping: asyncio.Event,
    started: asyncio.Event,
    *,
    client_id: str,
    label: str,
    data_keys: DataKeys | None,
    lookback_s: float | None = None,
) -> None:
    """Read ``topics`` from their end (or from ``lookback_s`` ago) until ``stopping``, and hand
    every record with a value to ``handle``. ``started`` is set once the start offsets are
    resolved, so nothing published after it is missed. A record whose subject was erased is
    skipped and counted (``skipped_shredded``, group ``label``); an unreadable one is logged
    and skipped: neither stops the feed."""
    consumer = await reader_of(settings, list(topics), client_id)
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        since = (
            {}
            if lookback_s is None
            else await consumer.offsets_for_times(
                {tp: int((time.time() - lookback_s) * 1000) for tp in partitions}
            )
        )
        for tp in partitions:
            found = since.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        started.set()
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            keys = await keys_for_records(data_keys, batch.values())
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        envelope = Envelope.from_headers(record.headers)
                        handle(
                            record,
                            envelope,
                            functools.partial(
                                open_record,
                                record=record,
                                event_id=envelope.id,
                                keys=keys,
                                data_keys=data_keys,
                            ),
                        )
                    except Shredded:
                        EVENTS_CONSUMED.labels(record.topic, label, "skipped_shredded").inc()
                    except Exception:
                        log.warning("unreadable record skipped", extra={"topic": record.topic})
    finally:
        await consumer.stop()
