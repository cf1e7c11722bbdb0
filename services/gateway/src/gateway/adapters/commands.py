"""Commands and their results, as every gateway instance reads them (no consumer group):
requested commands (so a status query on any instance knows the device) and results, read back
over the command time-to-live at start, then followed."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC

from aiokafka import ConsumerRecord

from gateway.domain.commands import STATUSES, CommandBook, CommandState
from trackstream.tracking.v1 import command_pb2
from trackstream_events.envelope import Envelope
from trackstream_kafka.follow import Opener, follow
from trackstream_kafka.sealing import DataKeys
from trackstream_kafka.settings import KafkaSettings

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


def _to_book(
    book: CommandBook, record: ConsumerRecord[bytes, bytes], _: Envelope, opened: Opener
) -> None:
    if record.topic == RESULTS_TOPIC:
        result = command_pb2.CommandResult.FromString(record.value or b"")
        opened(result)
        state = state_of_result(result)
    else:
        requested = command_pb2.CommandRequested.FromString(record.value or b"")
        opened(requested)
        state = state_of_request(requested)
    if state.command_id:
        book.record(state)


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
    await follow(
        settings,
        [COMMANDS_TOPIC, RESULTS_TOPIC],
        functools.partial(_to_book, book),
        stopping,
        started,
        client_id=client_id,
        label="gateway-commands",
        data_keys=data_keys,
        lookback_s=lookback_s,
    )
