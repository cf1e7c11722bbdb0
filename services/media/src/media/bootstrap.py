"""The only composition root of the media service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn

from media.adapters.catalogue import CassandraCatalogue
from media.adapters.devices import RegistryDevices
from media.adapters.grpc_api import serve_grpc
from media.adapters.http_upload import upload_app
from media.adapters.object_store import S3ObjectStore
from media.config import MediaSettings
from media.erasure import PARTICIPANT, MediaErasure
from media.handlers import ALARMS_TOPIC, COMMAND_RESULTS, MEDIA_TOPIC, MediaApp
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.catalog import bucket
from trackstream_events.registry import default_registry
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_s3 import HashedPut, ensure_buckets, make_client
from trackstream_servicekit.retention_sweep import sweep_devices, sweep_forever

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service runner owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class MediaService:
    settings: MediaSettings
    app: MediaApp
    devices: RegistryDevices
    publisher: EventPublisher
    cassandra: CassandraStore
    erasure: MediaErasure
    grpc_port: int = 0
    http_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        # devices, their accounts and the accounts' retention before the first upload
        tables = [
            asyncio.create_task(table.run(stopping))
            for table in (self.devices.table, self.devices.accounts)
        ]
        loaded: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(self.devices.table.ready.wait(), self.devices.accounts.ready.wait())
        )
        await asyncio.wait({loaded, *tables}, return_when=asyncio.FIRST_COMPLETED)
        for table in tables:
            if table.done():
                table.result()
        await self.publisher.start()
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[MEDIA_TOPIC, COMMAND_RESULTS, ALARMS_TOPIC],
            handler=self.app.handle,
            registry=default_registry(),
            dead_letters=self.publisher,
            data_keys=self.publisher.data_keys,
        )
        await consumer.start()
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=PARTICIPANT,
            erase=self.erasure.erase,
            publisher=self.publisher,
            group_id=f"{s.consumer_group}-erasure",
        )
        await participant.start()
        grpc_server, self.grpc_port = await serve_grpc(self.app, s.grpc_host, s.grpc_port)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((s.http_host, s.http_port))
        self.http_port = sock.getsockname()[1]
        http = _Server(
            uvicorn.Config(
                upload_app(
                    self.app,
                    max_bytes=s.max_upload_bytes,
                    allowed_content_types=frozenset(s.allowed_content_types),
                ),
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
            )
        )
        serving = asyncio.create_task(http.serve(sockets=[sock]))
        consuming = asyncio.create_task(consumer.run())
        sweeps_stopping = asyncio.Event()
        sweeping = asyncio.create_task(
            sweep_forever(
                self.sweep_retention,
                kind=DataKind.MEDIA.value,
                interval_s=s.sweep_interval_s,
                stopping=sweeps_stopping,
            )
        )
        erasing = asyncio.create_task(participant.run())
        for _ in range(1000):
            if http.started or serving.done():
                break
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()
        self.ready.set()
        log.info("media serving", extra={"grpc_port": self.grpc_port, "http_port": self.http_port})
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait(
                {consuming, serving, sweeping, erasing, waiter},
                return_when=asyncio.FIRST_COMPLETED,
            )
            waiter.cancel()
            for task in (consuming, serving, sweeping, erasing):
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            http.should_exit = True
            consumer.stop()
            participant.stop()
            for task in (serving, consuming, erasing):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, 30)
            sweeps_stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sweeping, 30)
            await grpc_server.stop(5)
            await self.publisher.stop()
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tables), 10)
            self.cassandra.close()

    async def sweep_retention(self, now: datetime | None = None) -> dict[str, int]:
        """One retention round: what expired on the last week of days (a missed round is
        caught up by the next), then every registered device's media captured before its
        account's retention (one shortened after they were stored)."""
        now = now or datetime.now(UTC)
        today = now.date()
        expired = await self.app.sweep(today, since=today - timedelta(days=7))
        deleted = await sweep_devices(
            ((d, r.owner_account_id) for d, r in self.devices.table.items()),
            self.app.retention.days,
            self.app.delete_older,
            kind=DataKind.MEDIA.value,
            now=now,
        )
        return {"expired": expired, "shortened": deleted.get("objects", 0)}


def bootstrap(settings: MediaSettings) -> MediaService:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    client = make_client(settings.s3)
    ensure_buckets(client, settings.s3, (bucket(settings.bucket),))
    devices = RegistryDevices(settings.kafka, settings.identifier_key.get_secret_value().encode())
    # each upload waits for its MediaStored ack before the device gets its answer, and uploads
    # are few and large: no linger (the shared default batches many small position events)
    # opens the sealed media uploads and alarms it reads (trackstream_kafka.sealing)
    publisher = EventPublisher.create(
        settings.kafka.model_copy(update={"linger_ms": 0}),
        source="/media",
        data_keys=DataKeys(CassandraDataKeyStore(cassandra)),
    )
    app = MediaApp(
        store=S3ObjectStore(client, settings.bucket, HashedPut(settings.s3)),
        catalogue=CassandraCatalogue(cassandra),
        publisher=publisher,
        devices=devices,
        retention=AccountRetentionPolicy(
            DataKind.MEDIA, settings.retention_days, lookup=devices.accounts.get
        ),
        download_url_ttl_s=settings.download_url_ttl_s,
        alarm_link_window=timedelta(seconds=settings.alarm_link_window_s),
    )
    return MediaService(
        settings=settings,
        app=app,
        devices=devices,
        publisher=publisher,
        cassandra=cassandra,
        erasure=MediaErasure(app, cassandra),
    )
