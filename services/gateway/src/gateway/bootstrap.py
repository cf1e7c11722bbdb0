"""The only composition root of the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field

import grpc
import uvicorn
from fastapi import FastAPI

from gateway.adapters.commands import run_command_feed
from gateway.adapters.identity_records import DirectoryFeed
from gateway.adapters.inbox_feed import run_inbox_feed
from gateway.adapters.jwks import KeyRing
from gateway.adapters.live import LiveHub, run_live_feed
from gateway.adapters.notifications import NotificationBackend
from gateway.api.app import create_app
from gateway.config import GatewaySettings
from gateway.context import GatewayContext, Publisher
from gateway.domain.commands import CommandBook
from gateway.domain.directory import Directory
from gateway.domain.ratelimit import RateLimiter
from trackstream.alarm.v1 import alarm_service_pb2_grpc as alarm_grpc
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as geocoding_grpc
from trackstream.history.v1 import history_service_pb2_grpc as history_grpc
from trackstream.identity.v1 import accounts_pb2, credentials_pb2, device_registry_pb2
from trackstream.identity.v1 import identity_service_pb2_grpc as identity_grpc
from trackstream.media.v1 import media_service_pb2_grpc as media_grpc
from trackstream.privacy.v1 import privacy_service_pb2_grpc as privacy_grpc
from trackstream_cassandra import CassandraStore, connect
from trackstream_kafka import EventPublisher
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.table import CompactedTable

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Gateway:
    settings: GatewaySettings
    context: GatewayContext
    app: FastAPI
    channels: list[grpc.aio.Channel]
    tables: list[CompactedTable[object]] = field(default_factory=list)
    #: False in unit tests: the directory is seeded directly, nothing is read from Kafka
    kafka: bool = True
    owns_publisher: bool = True
    #: the key store (sealed events of the live feed); None without Kafka
    cassandra: CassandraStore | None = None
    data_keys: DataKeys | None = None
    http_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def _load_keys(self, stopping: asyncio.Event) -> None:
        delay = 0.2
        while not stopping.is_set():
            try:
                await self.context.keys.fetch(self.settings.backend_timeout_s)
                return
            except grpc.aio.AioRpcError as err:
                log.warning("identity not reachable for keys yet: %s", err.code().name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @staticmethod
    async def _until_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
        # uvicorn signals start-up only through a flag
        for _ in range(1000):
            if server.started:
                return
            if serving.done():
                serving.result()
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        raise RuntimeError("the HTTP server did not start within 10 s")

    async def _loaded(self, stopping: asyncio.Event, started: list[asyncio.Event]) -> None:
        await self._load_keys(stopping)
        for event in started:
            await event.wait()

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        tasks: list[asyncio.Task[None]] = []
        started: list[asyncio.Event] = []
        if self.kafka:
            for table in self.tables:
                tasks.append(asyncio.create_task(table.run(stopping)))
                started.append(table.ready)
            live_started, commands_started = asyncio.Event(), asyncio.Event()
            suffix = uuid.uuid4().hex[:8]
            tasks.append(
                asyncio.create_task(
                    run_live_feed(
                        s.kafka,
                        self.context.hub,
                        stopping,
                        live_started,
                        client_id=f"gateway-live-{suffix}",
                        data_keys=self.data_keys,
                    )
                )
            )
            tasks.append(
                asyncio.create_task(
                    run_command_feed(
                        s.kafka,
                        self.context.commands,
                        stopping,
                        commands_started,
                        lookback_s=s.command_lookback_s,
                        client_id=f"gateway-commands-{suffix}",
                        data_keys=self.data_keys,
                    )
                )
            )
            started += [live_started, commands_started]
            inbox_started = asyncio.Event()
            tasks.append(
                asyncio.create_task(
                    run_inbox_feed(
                        s.kafka,
                        self.context.hub,
                        self.context.directory,
                        stopping,
                        inbox_started,
                        client_id=f"gateway-inbox-{suffix}",
                        data_keys=self.data_keys,
                    )
                )
            )
            started.append(inbox_started)
        if self.owns_publisher:
            await self.context.publisher.start()  # type: ignore[attr-defined]
        server: _Server | None = None
        try:
            loading = asyncio.create_task(self._loaded(stopping, started))
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait({loading, stop_wait, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    task.result()  # a feed that died at start: fail loudly
            if stopping.is_set():
                loading.cancel()
                return
            log.info("read model loaded", extra={"accounts": len(self.context.directory.accounts)})
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((s.http_host, s.http_port))
            self.http_port = sock.getsockname()[1]
            config = uvicorn.Config(
                self.app,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_keep_alive=s.http_keep_alive_s,
                ws_ping_interval=20,
                timeout_graceful_shutdown=5,
            )
            server = _Server(config)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            await self._until_started(server, serving)
            self.ready.set()
            log.info("gateway serving", extra={"http_port": self.http_port})
            await asyncio.wait({serving, stop_wait, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            self.context.hub.close_all("shutting down")
            if server is not None:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(serving, 10)
            stopping.set()
            for task in tasks:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 10)
            if self.owns_publisher:
                await self.context.publisher.stop()  # type: ignore[attr-defined]
            for channel in self.channels:
                await channel.close()
            if self.cassandra is not None:
                self.cassandra.close()


def bootstrap(
    settings: GatewaySettings, *, publisher: Publisher | None = None, kafka: bool = True
) -> Gateway:
    """Call inside the running event loop (gRPC channels belong to it)."""
    directory = Directory()
    # the data keys (Cassandra): the live feeds open sealed events, commands are sealed
    cassandra = (
        CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
        if kafka
        else None
    )
    data_keys = DataKeys(CassandraDataKeyStore(cassandra)) if cassandra else None
    identity_channel = grpc.aio.insecure_channel(settings.identity_address)
    history_channel = grpc.aio.insecure_channel(settings.history_address)
    geocoding_channel = grpc.aio.insecure_channel(settings.geocoding_address)
    alarm_channel = grpc.aio.insecure_channel(settings.alarm_address)
    privacy_channel = grpc.aio.insecure_channel(settings.privacy_address)
    media_channel = grpc.aio.insecure_channel(settings.media_address)
    notification_channel = grpc.aio.insecure_channel(settings.notification_address)
    identity = identity_grpc.IdentityServiceStub(identity_channel)
    hub = LiveHub(settings.live_queue_size)
    directory.on_revocation(hub.credential_revoked)
    context = GatewayContext(
        settings=settings,
        directory=directory,
        keys=KeyRing(identity, refetch_interval_s=settings.jwks_refetch_interval_s),
        identity=identity,
        history=history_grpc.HistoryServiceStub(history_channel),
        geocoding=geocoding_grpc.GeocodingServiceStub(geocoding_channel),
        alarm=alarm_grpc.AlarmServiceStub(alarm_channel),
        privacy=privacy_grpc.PrivacyServiceStub(privacy_channel),
        media=media_grpc.MediaServiceStub(media_channel),
        notifications=NotificationBackend(
            notification_channel, timeout_s=settings.backend_timeout_s
        ),
        publisher=publisher
        or EventPublisher.create(settings.kafka, source="/gateway", data_keys=data_keys),
        commands=CommandBook(settings.command_status_capacity),
        hub=hub,
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
    )
    feed = DirectoryFeed(directory)
    suffix = uuid.uuid4().hex[:8]
    tables: list[CompactedTable[object]] = [
        CompactedTable(
            settings.kafka,
            "identity.accounts.v1",
            accounts_pb2.AccountChanged.FromString,
            client_id=f"gateway-accounts-{suffix}",
            on_change=feed.account,  # type: ignore[arg-type]
        ),
        CompactedTable(
            settings.kafka,
            "identity.device-registry.v1",
            device_registry_pb2.DeviceRegistered.FromString,
            client_id=f"gateway-devices-{suffix}",
            on_change=feed.device,  # type: ignore[arg-type]
        ),
        CompactedTable(
            settings.kafka,
            "identity.revocations.v1",
            credentials_pb2.CredentialRevoked.FromString,
            client_id=f"gateway-revocations-{suffix}",
            on_change=feed.revocation,  # type: ignore[arg-type]
        ),
        CompactedTable(
            settings.kafka,
            "identity.api-keys.v1",
            credentials_pb2.ApiKeyIssued.FromString,
            client_id=f"gateway-api-keys-{suffix}",
            on_change=feed.api_key,  # type: ignore[arg-type]
        ),
    ]
    return Gateway(
        settings=settings,
        context=context,
        cassandra=cassandra,
        data_keys=data_keys,
        app=create_app(context),
        channels=[
            identity_channel,
            history_channel,
            geocoding_channel,
            alarm_channel,
            privacy_channel,
            media_channel,
            notification_channel,
        ],
        tables=tables,
        kafka=kafka,
        owns_publisher=publisher is None,
    )
