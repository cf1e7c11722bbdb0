"""Downlink commands: read ``tracking.commands.v1``, deliver to connected devices, hold the rest.

Every ingest instance reads every command (no consumer group: a device is connected to one
instance, and only that one can deliver). Results go to ``tracking.command-results.v1``, which
every instance also reads, so a command delivered by one instance is dropped by the others.
A command that expires undelivered is reported EXPIRED by each instance holding it: the
results are identical (command id and status), consumers keep one.
At start both topics are read back over the command time-to-live, which rebuilds the commands
still waiting after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ingest.adapters.metrics import COMMANDS
from ingest.adapters.tcp_server import Connection, ConnectionRegistry
from ingest.domain.commands import Command, CommandBook
from ingest.handlers import COMMAND_RESULTS
from ingest.ports import Clock, Publisher
from ingest.protocols.base import UnsupportedCommand
from trackstream.tracking.v1 import command_pb2
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka.publisher import Outgoing, PublishError
from trackstream_kafka.sealing import DataKeys, Shredded, keys_for_records, open_record
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import reader_of

log = logging.getLogger(__name__)
COMMANDS_TOPIC = "tracking.commands.v1"


class CommandDispatcher:
    def __init__(
        self,
        *,
        book: CommandBook,
        connections: ConnectionRegistry,
        publisher: Publisher,
        clock: Clock,
        default_ttl_s: float,
        data_keys: DataKeys | None = None,
    ) -> None:
        self.book = book
        #: opens sealed commands and results (trackstream_kafka.sealing), as every consumer does
        self._data_keys = data_keys
        self._connections = connections
        self._publisher = publisher
        self._clock = clock
        self._default_ttl = timedelta(seconds=default_ttl_s)
        self.caught_up = asyncio.Event()

    # ------------------------------------------------------------------ decisions

    def command_from(self, requested: command_pb2.CommandRequested) -> Command:
        expires = (
            requested.expires_time.ToDatetime(tzinfo=UTC)
            if requested.HasField("expires_time")
            else requested.requested_time.ToDatetime(tzinfo=UTC) + self._default_ttl
        )
        return Command(
            command_id=requested.command_id,
            device_id=requested.device_id,
            kind=requested.kind,
            text=requested.text,
            parameters=dict(requested.parameters),
            expires_at=expires,
        )

    async def on_requested(self, command: Command, *, live: bool) -> None:
        now = self._clock.now()
        if command.expires_at <= now:
            if live:
                self.book.settle(command.command_id)
                await self._result(
                    command, command_pb2.COMMAND_STATUS_EXPIRED, "expired on arrival"
                )
            else:  # expired while ingest was down: the first sweep reports it
                self.book.hold(command)
            return
        connection = self._connections.get(command.device_id)
        if connection is not None:
            await self.deliver(connection, command)
        elif self.book.hold(command) and live:
            # No QUEUED result: with several instances, every one not holding the device would
            # report it. No result yet means pending; DELIVERED or EXPIRED follows.
            COMMANDS.labels("held").inc()

    def on_result(self, result: command_pb2.CommandResult) -> None:
        if result.status != command_pb2.COMMAND_STATUS_QUEUED and result.command_id:
            self.book.settle(result.command_id)

    async def device_online(self, connection: Connection) -> None:
        device_id = connection.session.device_id
        assert device_id is not None
        for command in self.book.due_for(device_id, self._clock.now()):
            await self.deliver(connection, command)

    async def deliver(self, connection: Connection, command: Command) -> None:
        try:
            data, correlation = connection.adapter.encode_command(command, connection.session)
        except UnsupportedCommand as err:
            self.book.settle(command.command_id)
            COMMANDS.labels("failed").inc()
            await self._result(command, command_pb2.COMMAND_STATUS_FAILED, str(err))
            return
        try:
            await connection.send(data)
        except ConnectionError:
            self.book.hold(command)  # it will go out when the device is back
            return
        self.book.sent(command.device_id, correlation, command.command_id)
        COMMANDS.labels("delivered").inc()
        await self._result(command, command_pb2.COMMAND_STATUS_DELIVERED, "")

    async def expire_due(self) -> None:
        for command in self.book.expire(self._clock.now()):
            self.book.settle(command.command_id)
            COMMANDS.labels("expired").inc()
            await self._result(
                command, command_pb2.COMMAND_STATUS_EXPIRED, "device did not connect"
            )

    async def _result(self, command: Command, status: int, detail: str) -> None:
        result = command_pb2.CommandResult(
            command_id=command.command_id,
            device_id=command.device_id,
            status=status,  # type: ignore[arg-type]
            result_time=to_timestamp(self._clock.now()),
            detail=detail,
        )
        try:
            await self._publisher.publish_many(
                [Outgoing(COMMAND_RESULTS, result, command.device_id)]
            )
        except PublishError:
            log.error("command result not published", extra={"command_id": command.command_id})

    # ------------------------------------------------------------------ the Kafka side

    async def run(self, settings: KafkaSettings, stopping: asyncio.Event) -> None:
        consumer = await reader_of(settings, [COMMAND_RESULTS, COMMANDS_TOPIC], "ingest-commands")
        try:
            partitions = sorted(consumer.assignment())
            since_ms = int((time.time() - self._default_ttl.total_seconds()) * 1000)
            offsets = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                found = offsets.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
            await self._replay(consumer, partitions, ends)
            self.caught_up.set()
            last_sweep = 0.0
            while not stopping.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=500)
                for records in batch.values():
                    for record in records:
                        await self._record(record, live=True)
                if time.monotonic() - last_sweep > 5:
                    await self.expire_due()
                    last_sweep = time.monotonic()
        finally:
            await consumer.stop()

    async def _replay(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        ends: dict[TopicPartition, int],
    ) -> None:
        """Results first, so commands settled before the restart are not sent again. Records
        that arrived after the start (past the end offsets) are handled as live ones after."""
        pending_requests: list[ConsumerRecord[bytes, bytes]] = []
        arrived_since: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500, max_records=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        arrived_since.append(record)
                    elif tp.topic == COMMAND_RESULTS:
                        await self._record(record, live=False)
                    else:
                        pending_requests.append(record)
        for record in pending_requests:
            await self._record(record, live=False)
        for record in arrived_since:
            await self._record(record, live=True)

    async def _record(self, record: ConsumerRecord[bytes, bytes], *, live: bool) -> None:
        if record.value is None:
            return
        keys = await keys_for_records(self._data_keys, [[record]])
        try:
            event_id = dict(record.headers).get("ce_id", b"").decode()
            if record.topic == COMMAND_RESULTS:
                result = command_pb2.CommandResult.FromString(record.value)
                open_record(result, record, event_id, keys, self._data_keys)
                self.on_result(result)
                return
            requested = command_pb2.CommandRequested.FromString(record.value)
            open_record(requested, record, event_id, keys, self._data_keys)
        except Shredded:
            return  # its device was erased: nothing to deliver
        except Exception:
            log.error("unreadable command record skipped", extra={"topic": record.topic})
            return
        await self.on_requested(self.command_from(requested), live=live)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
