"""The device-state changelog: restored when the group assigns positions partitions.

``alarm.device-state.v1`` has as many partitions as ``tracking.positions.v1`` and both are
keyed by device id with Kafka's default partitioner, so the state of every device of positions
partition *p* is in changelog partition *p*. On assignment the listener reads those changelog
partitions from the start to their end offsets (the latest value per device wins, a tombstone
drops it) before any record of *p* is handed over; on revocation it forgets the devices.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from alarm.adapters.codec import state_of
from alarm.domain.engine import DeviceState
from alarm.handlers import DEVICE_STATE, AlarmProcessor
from trackstream.alarm.v1.device_state_pb2 import DeviceAlarmState
from trackstream_kafka.settings import KafkaSettings

log = logging.getLogger(__name__)


async def restore_states(
    settings: KafkaSettings, partitions: list[int], *, topic: str = DEVICE_STATE
) -> dict[int, list[DeviceState]]:
    """The latest state of every device in the given changelog partitions."""
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        client_id="alarm-state-restore",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        latest: dict[int, dict[str, bytes | None]] = {p: {} for p in partitions}
        behind = {tp for tp in tps if end[tp] > 0}
        while behind:
            batch = await consumer.getmany(*behind, timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for record in records:
                    if record.key is not None:
                        latest[tp.partition][record.key.decode()] = record.value
            behind = {tp for tp in behind if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    restored: dict[int, list[DeviceState]] = {}
    for partition, values in latest.items():
        states = []
        for value in values.values():
            if value is None:
                continue
            try:
                states.append(state_of(DeviceAlarmState.FromString(value)))
            except Exception:
                log.error("unreadable device state skipped", extra={"partition": partition})
        restored[partition] = states
    return restored


class StateRestorer(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands the processor its devices' states when positions partitions come and go."""

    def __init__(self, processor: AlarmProcessor, settings: KafkaSettings) -> None:
        self._processor = processor
        self._settings = settings

    async def _restore(self, partitions: list[int]) -> dict[int, list[DeviceState]]:
        """Retried until it succeeds: without its states a partition must not be processed
        (and a Kafka that cannot be read has nothing to process anyway)."""
        backoff = 0.5
        while True:
            try:
                return await restore_states(
                    self._settings, partitions, topic=self._processor.state_topic
                )
            except Exception:
                log.exception("device states could not be restored; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        lost = [tp.partition for tp in revoked if tp.topic == self._processor.positions_topic]
        self._processor.assigned.clear()
        async with self._processor.lock:  # not in the middle of a batch or a sweep
            self._processor.revoke(lost)
        if lost:
            log.info("positions partitions revoked", extra={"partitions": sorted(lost)})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        gained = sorted(
            tp.partition for tp in assigned if tp.topic == self._processor.positions_topic
        )
        fresh = [p for p in gained if p not in self._processor.owned]
        # before any await: records fetched meanwhile wait for these states
        self._processor.restoring.update(fresh)
        started = time.perf_counter()
        try:
            restored = await self._restore(fresh)
            async with self._processor.lock:
                for partition in fresh:
                    self._processor.assign(partition, restored.get(partition, []))
        finally:
            self._processor.restoring.difference_update(fresh)
        self._processor.assigned.set()
        if fresh:
            log.info(
                "device states restored",
                extra={
                    "partitions": fresh,
                    "devices": sum(len(v) for v in restored.values()),
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
