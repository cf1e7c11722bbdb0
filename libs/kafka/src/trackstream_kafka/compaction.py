"""Keeping compaction moving on quiet compacted topics, so an erasure's bound holds.

Kafka never compacts the active segment of a partition, and it rolls a segment only when a
record is appended after the segment has outlived ``segment.ms`` (for a compacted topic, the
smaller of that and ``max.compaction.lag.ms``). On a partition nobody writes to, an erased
subject's old values and its tombstone would stay in the active segment indefinitely, and the
bound an erasure certificate gives for the topic would not hold. :func:`keep_compaction_moving`
appends one tombstone for :data:`ROLL_KEY` (a key no subject has) to every partition of every
compacted topic once per ``interval_s``: the append rolls an outlived segment, the cleaner then
compacts it (removing the subject's earlier values), and after ``delete.retention.ms`` a later
cleaning (again made possible by these appends) removes the tombstones themselves. Consumers skip
tombstones of keys they do not hold, so the markers change nothing downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from trackstream_kafka.publisher import EventPublisher

log = logging.getLogger(__name__)

#: the key of the roll markers: not a subject id (those are UUIDs), never held by a projection
ROLL_KEY = "__trackstream-segment-roll__"


async def append_roll_markers(publisher: EventPublisher, topics: Sequence[str]) -> int:
    """One marker in every partition of each topic; how many were appended."""
    appended = 0
    for topic in topics:
        appended += len(await publisher.publish_tombstone_to_every_partition(topic, key=ROLL_KEY))
    return appended


async def keep_compaction_moving(
    publisher: EventPublisher,
    topics: Sequence[str],
    *,
    interval_s: float,
    stopping: asyncio.Event,
) -> None:
    """Markers every ``interval_s`` (at most the topics' smallest ``segment.ms``) until
    ``stopping``; a failed round is logged and retried at the next."""
    while not stopping.is_set():
        try:
            await append_roll_markers(publisher, topics)
        except Exception:
            log.warning("roll markers not appended; retried next round", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
