"""The only composition root: settings in, a wired ingest application out. Tests call it with
fakes for the publisher, the registry and the media store."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ingest.adapters.commands import CommandDispatcher, SystemClock
from ingest.adapters.directory import InMemoryDirectory, KafkaDirectory
from ingest.adapters.media_store import S3MediaStore
from ingest.adapters.osmand_server import OsmandServer
from ingest.adapters.tcp_server import (
    Connection,
    ConnectionRegistry,
    ConnectionServer,
    DeviceServer,
    ServerOptions,
)
from ingest.config import IngestSettings
from ingest.domain.commands import CommandBook
from ingest.domain.consent import ConsentPolicy, WithoutConsent
from ingest.domain.session import DeviceSession
from ingest.handlers import IngestHandler
from ingest.ports import Clock, ManagedPublisher, MediaStore
from ingest.protocols.gt06 import Gt06Adapter
from ingest.protocols.jt808 import Jt808Adapter
from trackstream.tracking.v1 import fix_pb2
from trackstream_cassandra import CassandraStore, connect
from trackstream_kafka import EventPublisher
from trackstream_kafka.coalescing import CoalescingPublisher
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys, SubjectShredded
from trackstream_protocols import native
from trackstream_s3 import make_client

log = logging.getLogger(__name__)
MEDIA_BUCKET = "trackstream-media"


@dataclass
class IngestApp:
    settings: IngestSettings
    publisher: ManagedPublisher
    directory: InMemoryDirectory
    handler: IngestHandler
    connections: ConnectionRegistry
    dispatcher: CommandDispatcher
    servers: dict[str, ConnectionServer]
    #: the key store's session (sealed topics), when this app made its own publisher
    cassandra: CassandraStore | None = None
    #: ports actually bound (settings may ask for 0 in tests)
    ports: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        """Serve until ``stopping`` is set; then close connections and flush Kafka."""
        await self.publisher.start()
        tasks: list[asyncio.Task[None]] = []
        try:
            if isinstance(self.directory, KafkaDirectory):
                tasks.append(asyncio.create_task(self.directory.run(stopping)))
                await _first(self.directory.ready.wait(), tasks[-1])
            tasks.append(asyncio.create_task(self.dispatcher.run(self.settings.kafka, stopping)))
            await _first(self.dispatcher.caught_up.wait(), tasks[-1])
            s = self.settings
            wanted = {"gt06": s.gt06_port, "jt808": s.jt808_port, "osmand": s.osmand_port}
            for name, server in self.servers.items():
                self.ports[name] = await server.start(s.host, wanted[name])
            self.ready.set()
            await stopping.wait()
        finally:
            self.ready.clear()
            for server in self.servers.values():
                await server.stop()
            stopping.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
            await self.publisher.stop()
            if self.cassandra is not None:
                self.cassandra.close()


async def _first(wait: Coroutine[Any, Any, bool], task: asyncio.Task[None]) -> None:
    """Wait for a readiness event, failing fast if the task behind it died."""
    waiter = asyncio.ensure_future(wait)
    done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise RuntimeError("a background task ended before it was ready")


async def device_online(
    dispatcher: CommandDispatcher, data_keys: DataKeys | None, connection: Connection
) -> None:
    """A device has just identified itself: its data key is fetched (or made) now, so its first
    position does not wait for the key store; then the commands held for it go out."""
    device_id = connection.session.device_id
    if data_keys is not None and device_id is not None:
        try:
            await data_keys.for_sealing([device_id])
        except SubjectShredded:
            pass  # an erased device: its events are refused when they come
        except Exception as err:  # its first event will ask again, and fail properly
            log.warning("data key not fetched at login: %r", err)
    await dispatcher.device_online(connection)


def bootstrap(
    settings: IngestSettings,
    *,
    publisher: ManagedPublisher | None = None,
    directory: InMemoryDirectory | None = None,
    media: MediaStore | None = None,
    clock: Clock | None = None,
) -> IngestApp:
    clock = clock or SystemClock()
    # "native" (the C hot path of trackstream_protocols) or "python", with the reason
    log.info("protocol codec", extra={"codec": native.CODEC, "reason": native.UNAVAILABLE_REASON})
    cassandra, data_keys = None, None
    if publisher is None:
        # positions are sealed under each device's data key (trackstream_kafka.sealing)
        cassandra = CassandraStore(
            connect(settings.cassandra, keyspace=settings.cassandra.keyspace)
        )
        data_keys = DataKeys(CassandraDataKeyStore(cassandra))
        # the frames of all connections read in one turn of the loop go out as one call
        publisher = CoalescingPublisher(
            EventPublisher.create(settings.kafka, source="/ingest", data_keys=data_keys)
        )
    directory = directory if directory is not None else KafkaDirectory(settings.kafka)
    media = media or S3MediaStore(make_client(settings.s3), MEDIA_BUCKET)
    key = settings.identifier_key.get_secret_value().encode()
    book = CommandBook()
    handler = IngestHandler(
        publisher=publisher,
        directory=directory,
        media=media,
        clock=clock,
        commands=book,
        identifier_key=key,
        unknown_device_policy=settings.unknown_device_policy,
        consent_policy=ConsentPolicy(
            without_consent=WithoutConsent(settings.without_location_consent),
            unrecorded_is_consent=settings.unrecorded_location_consent == "granted",
            grid_deg=settings.coarse_grid_deg,
        ),
        drop_bad_checksum=settings.drop_bad_checksum,
    )
    connections = ConnectionRegistry()
    dispatcher = CommandDispatcher(
        book=book,
        connections=connections,
        publisher=publisher,
        clock=clock,
        default_ttl_s=settings.command_ttl_s,
        data_keys=data_keys,
    )
    options = ServerOptions(
        idle_timeout_s=settings.idle_timeout_s,
        read_chunk_size=settings.read_chunk_size,
        max_connections=settings.max_connections,
        failpoint=settings.failpoint,
    )
    gt06_tz = ZoneInfo(settings.gt06_timezone)
    jt808_tz = ZoneInfo(settings.jt808_timezone)

    def gt06_adapter(session: DeviceSession) -> Gt06Adapter:
        return Gt06Adapter(max_frame_size=settings.max_frame_size, default_tz=gt06_tz)

    def jt808_adapter(session: DeviceSession) -> Jt808Adapter:
        return Jt808Adapter(
            session,
            max_frame_size=settings.max_frame_size,
            device_tz=jt808_tz,
            auth_secret=key,
            verify_auth_code=settings.jt808_verify_auth_code,
        )

    servers: dict[str, ConnectionServer] = {
        name: DeviceServer(
            adapter_factory=factory,
            protocol=protocol,
            name=name,
            handler=handler,
            connections=connections,
            options=options,
            on_identified=functools.partial(device_online, dispatcher, data_keys),
        )
        for name, protocol, factory in (
            ("gt06", fix_pb2.PROTOCOL_GT06, gt06_adapter),
            ("jt808", fix_pb2.PROTOCOL_JT808, jt808_adapter),
        )
    }
    servers["osmand"] = OsmandServer(
        handler=handler,
        connections=connections,
        options=options,
        speed_unit=settings.osmand_speed_unit,
    )
    return IngestApp(
        settings=settings,
        publisher=publisher,
        directory=directory,
        handler=handler,
        connections=connections,
        dispatcher=dispatcher,
        servers=servers,
        cassandra=cassandra,
    )
