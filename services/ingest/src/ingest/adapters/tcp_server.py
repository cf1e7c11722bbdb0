"""The device servers: one asyncio TCP server per protocol, one session per connection.

Per connection the loop is: read (bounded; waiting here is the backpressure: while a batch is
being published nothing more is read, so a slow Kafka slows the devices instead of growing
memory) → split and decode → publish the events and wait for Kafka → only then write the
acknowledgements. Garbage closes that connection alone, with a logged reason and a metric.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ingest.adapters.metrics import BAD_CHECKSUMS, CLOSED, CONNECTIONS, FRAMES
from ingest.domain.reports import PositionReport
from ingest.domain.session import DeviceRejected, DeviceSession, NotIdentified, SessionState
from ingest.handlers import SESSIONS, IngestHandler
from ingest.protocols.base import ProtocolAdapter
from trackstream.tracking.v1 import device_pb2
from trackstream_events.envelope import uuid7
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka.publisher import Outgoing, PublishError
from trackstream_protocols.errors import ProtocolError

log = logging.getLogger(__name__)

Reason = int  # trackstream.tracking.v1.DisconnectReason


@dataclass
class Connection:
    session: DeviceSession
    adapter: ProtocolAdapter
    writer: asyncio.StreamWriter
    closing_reason: Reason = device_pb2.DISCONNECT_REASON_CLOSED_BY_DEVICE

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close(self, reason: Reason) -> None:
        self.closing_reason = reason
        self.writer.close()


class ConnectionRegistry:
    """Which connection each identified device is on (commands need it)."""

    def __init__(self) -> None:
        self._by_device: dict[str, Connection] = {}
        self.open = 0

    def register(self, connection: Connection) -> None:
        device_id = connection.session.device_id
        assert device_id is not None
        previous = self._by_device.get(device_id)
        if previous is not None and previous is not connection:
            previous.close(device_pb2.DISCONNECT_REASON_REPLACED)
        self._by_device[device_id] = connection

    def unregister(self, connection: Connection) -> None:
        device_id = connection.session.device_id
        if device_id is not None and self._by_device.get(device_id) is connection:
            del self._by_device[device_id]

    def get(self, device_id: str) -> Connection | None:
        return self._by_device.get(device_id)

    def all(self) -> list[Connection]:
        return list(self._by_device.values())


@dataclass
class ServerOptions:
    idle_timeout_s: float
    read_chunk_size: int
    max_connections: int
    failpoint: str = ""


@dataclass
class Activity:
    """When a connection last received bytes. One sweeper per server closes the idle ones, so
    no timer is armed and disarmed on every read."""

    last: float
    #: set by the sweeper just before it cancels the connection's task
    idle: bool = False


class ConnectionServer(abc.ABC):
    """A listening socket whose connections each run :meth:`_serve`: the connection cap, the
    connection gauge, the close-reason counter, the idle timeout, and a stop that closes every
    connection."""

    def __init__(
        self, *, name: str, connections: ConnectionRegistry, options: ServerOptions
    ) -> None:
        self.name = name
        self._connections = connections
        self._options = options
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[None], Activity] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(
            self._accept, host, port, limit=self._options.read_chunk_size, backlog=1024
        )
        self._sweeper = asyncio.create_task(self._sweep_idle())
        bound = int(self._server.sockets[0].getsockname()[1])
        log.info("device server listening", extra={"protocol": self.name, "port": bound})
        return bound

    async def _sweep_idle(self) -> None:
        timeout = self._options.idle_timeout_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.05, min(timeout / 4, 5.0)))
            deadline = loop.time() - timeout
            for task, activity in list(self._tasks.items()):
                if activity.last < deadline and not activity.idle:
                    activity.idle = True
                    task.cancel()

    async def stop(self) -> None:
        """Stop accepting, close every connection, and wait for their sessions to end."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @abc.abstractmethod
    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, activity: Activity
    ) -> str:
        """Serve one connection until it ends; returns why it ended (a metric label). Sets
        ``activity.last`` to the loop's time after every read."""

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        activity = Activity(asyncio.get_running_loop().time())
        self._tasks[task] = activity
        reason = "too_many_connections"
        try:
            if self._connections.open >= self._options.max_connections:
                return
            self._connections.open += 1
            CONNECTIONS.labels(self.name).inc()
            try:
                reason = await self._serve(reader, writer, activity)
            except ConnectionError:
                reason = "connection_reset"
            except asyncio.CancelledError:
                reason = "idle_timeout" if activity.idle else "server_shutdown"
            finally:
                self._connections.open -= 1
                CONNECTIONS.labels(self.name).dec()
        finally:
            CLOSED.labels(self.name, reason).inc()
            writer.close()
            self._tasks.pop(task, None)


class DeviceServer(ConnectionServer):
    """GT06 and JT/T 808: framed binary protocols over long-lived TCP connections."""

    def __init__(
        self,
        *,
        adapter_factory: Callable[[DeviceSession], ProtocolAdapter],
        protocol: int,
        name: str,
        handler: IngestHandler,
        connections: ConnectionRegistry,
        options: ServerOptions,
        on_identified: Callable[[Connection], Awaitable[None]],
    ) -> None:
        super().__init__(name=name, connections=connections, options=options)
        self._adapter_factory = adapter_factory
        self._protocol = protocol
        self._handler = handler
        self._on_identified = on_identified
        self._frames = FRAMES.labels(name)
        self._bad_checksums = BAD_CHECKSUMS.labels(name)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, activity: Activity
    ) -> str:
        loop = asyncio.get_running_loop()
        session = DeviceSession(session_id=uuid7(), protocol=self._protocol)
        adapter = self._adapter_factory(session)
        connection = Connection(session, adapter, writer)
        reason_label = "closed_by_device"
        try:
            while True:
                data = await reader.read(self._options.read_chunk_size)
                activity.last = loop.time()
                if not data:
                    break
                inbounds = adapter.feed(data)
                if not inbounds:
                    continue
                self._frames.inc(len(inbounds))
                bad = sum(1 for i in inbounds if not i.checksum_ok)
                if bad:
                    self._bad_checksums.inc(bad)
                result = await self._handler.handle(session, inbounds)
                if self._options.failpoint == "exit-before-ack" and any(
                    isinstance(r, PositionReport) for i in inbounds for r in i.reports
                ):
                    log.error("failpoint exit-before-ack: exiting after publish, before ack")
                    os._exit(70)
                for response in result.responses:
                    writer.write(response)
                if writer.transport.get_write_buffer_size():
                    await writer.drain()  # the device does not read: wait (or fail) here
                if result.identified:
                    self._connections.register(connection)
                    await self._on_identified(connection)
                if result.logout:
                    connection.closing_reason = device_pb2.DISCONNECT_REASON_LOGOUT
                    reason_label = "logout"
                    break
        except (ProtocolError, NotIdentified, DeviceRejected) as err:
            connection.closing_reason = device_pb2.DISCONNECT_REASON_PROTOCOL_ERROR
            reason_label = type(err).__name__
            log.warning(
                "closing connection: %s",
                err,
                extra={"protocol": self.name, "session_id": session.session_id},
            )
        except PublishError as err:
            reason_label = "publish_failed"
            log.error(
                "closing connection, nothing acknowledged: %s",
                err,
                extra={"protocol": self.name, "session_id": session.session_id},
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            if activity.idle:
                connection.closing_reason = device_pb2.DISCONNECT_REASON_IDLE_TIMEOUT
                reason_label = "idle_timeout"
            else:
                connection.closing_reason = device_pb2.DISCONNECT_REASON_SERVER_SHUTDOWN
                reason_label = "server_shutdown"
        finally:
            self._connections.unregister(connection)
            writer.close()
            await self._disconnected(connection)
        return reason_label

    async def _disconnected(self, connection: Connection) -> None:
        session = connection.session
        if session.state is not SessionState.ACTIVE or session.device_id is None:
            return
        if connection.closing_reason == device_pb2.DISCONNECT_REASON_LOGOUT:
            return  # the logout itself was published
        event = device_pb2.DeviceDisconnected(
            device_id=session.device_id,
            session_id=session.session_id,
            disconnected_time=to_timestamp(self._handler.clock.now()),
            reason=connection.closing_reason,  # type: ignore[arg-type]
            frames_received=session.frames,
        )
        with contextlib.suppress(PublishError, asyncio.CancelledError):
            await self._handler.publisher.publish_many(
                [Outgoing(SESSIONS, event, session.device_id)]
            )
