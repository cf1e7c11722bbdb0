"""Commands and their results, as every gateway instance reads them (no consumer group):
requested commands (so a status query on any instance knows the device) and results, read back
over the command time-to-live at start, then followed."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC

from gateway.domain.commands import STATUSES, CommandBook, CommandState
from trackstream.tracking.v1 import command_pb2
from trackstream_kafka.sealing import DataKeys, Shredded, keys_for_records, open_record
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import reader_of

log = logging.getLogger(__name__)
COMMANDS_TOPIC = "tracking.commands.v1"
RESULTS_TOPIC = "tracking.command-results.v1"


def state_of_request(request: command_pb2.CommandRequested) -> CommandState:
    return CommandState(
        command_id=request.command_id,
        device_id=request.device_id,
        status="pending",
        updated_at=request.requested_time.ToDatetime(tzinfo=UTC),
    )


def state_of_result(result: command_pb2.CommandResult) -> CommandState:
    return CommandState(
        command_id=result.command_id,
        device_id=result.device_id,
        status=STATUSES.get(result.status, "pending"),
        updated_at=result.result_time.ToDatetime(tzinfo=UTC),
        detail=result.detail,
        reply_text=result.reply_text,
    )


async def run_command_feed(
    settings: KafkaSettings,
    book: CommandBook,
    stopping: asyncio.Event,
    started: asyncio.Event,
    *,
    lookback_s: float,
    client_id: str,
    data_keys: DataKeys | None,
) -> None:
    """Commands and results of the last ``lookback_s``, then live; sealed ones opened with
    ``data_keys`` (an erased device's skipped)."""
    consumer = await reader_of(settings, [COMMANDS_TOPIC, RESULTS_TOPIC], client_id)
    try:
        partitions = sorted(consumer.assignment())
        since_ms = int((time.time() - lookback_s) * 1000)
        offsets = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = offsets.get(tp)
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
                        event_id = dict(record.headers).get("ce_id", b"").decode()
                        if record.topic == RESULTS_TOPIC:
                            result = command_pb2.CommandResult.FromString(record.value)
                            open_record(result, record, event_id, keys, data_keys)
                            state = state_of_result(result)
                        else:
                            requested = command_pb2.CommandRequested.FromString(record.value)
                            open_record(requested, record, event_id, keys, data_keys)
                            state = state_of_request(requested)
                    except Shredded:
                        continue  # its device was erased
                    except Exception:
                        log.warning("unreadable command record skipped")
                        continue
                    if state.command_id:
                        book.record(state)
    finally:
        await consumer.stop()
