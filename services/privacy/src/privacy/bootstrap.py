"""The only composition root of the privacy service."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from privacy.adapters.archive_bucket import ArchiveBucket
from privacy.adapters.collectors import ServiceCollectors
from privacy.adapters.export_store import ExportStore
from privacy.adapters.grpc_api import PrivacyApi, serve_grpc
from privacy.adapters.ledger import Ledger
from privacy.config import PrivacySettings
from privacy.data_keys import KEYS_TABLE, KeyShredder
from privacy.data_keys import PARTICIPANT as KEYS_PARTICIPANT
from privacy.domain.plan import retention_topics
from privacy.export.exporter import Exporter, devices_owned_by
from privacy.handlers import (
    ACCOUNTS,
    ACKS_TOPIC,
    REGISTRY,
    REQUESTS_TOPIC,
    Directory,
    Eraser,
)
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_auth import SigningKey
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.catalog import CleanupPolicy, all_topics, bucket
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.compaction import keep_compaction_moving
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.table import CompactedTable
from trackstream_s3 import make_client

log = logging.getLogger(__name__)
#: the topics whose erasure is a tombstone, and whose bound needs their segments rolling
COMPACTED = tuple(t for t in all_topics() if t.cleanup_policy is CleanupPolicy.COMPACT)

#: the bucket of export archives (catalog BUCKETS)
EXPORTS_BUCKET = bucket("trackstream-exports").name


@dataclass
class PrivacyApp:
    settings: PrivacySettings
    cassandra: CassandraStore
    eraser: Eraser
    api: PrivacyApi
    tables: list[CompactedTable[Any]]
    publisher: EventPublisher
    exporter: Exporter
    exports_participant: ErasureParticipant
    collectors: ServiceCollectors
    #: destroys erased subjects' data keys (crypto-shredding, privacy/data_keys.py)
    keys_participant: ErasureParticipant
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def _sweeps(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.eraser.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.sweep_interval_s)

    async def _export_sweeps(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.exporter.sweep()
            except Exception as err:  # S3 or Cassandra away: the next sweep tries again
                log.warning("export sweep failed", extra={"error": type(err).__name__})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.export_sweep_interval_s)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        tables_stopping = asyncio.Event()
        loading = [asyncio.create_task(t.run(tables_stopping)) for t in self.tables]
        waiting: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(t.ready.wait() for t in self.tables))
        )
        done, _ = await asyncio.wait({*loading, waiting}, return_when=asyncio.FIRST_COMPLETED)
        for task in loading:
            if task in done:
                task.result()
        await self.publisher.start()
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[REQUESTS_TOPIC, ACKS_TOPIC],
            handler=self.eraser.handle,
            registry=default_registry(),
            dead_letters=self.publisher,
        )
        await consumer.start()
        await self.exports_participant.start()
        await self.keys_participant.start()
        server, self.grpc_port = await serve_grpc(self.api, s.grpc_host, s.grpc_port)
        sweeps_stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(consumer.run()),
            asyncio.create_task(self._sweeps(sweeps_stopping)),
            asyncio.create_task(self.exports_participant.run()),
            asyncio.create_task(self.keys_participant.run()),
            asyncio.create_task(self._export_sweeps(sweeps_stopping)),
            # every compacted topic's segments keep rolling, so the erasure bounds hold on
            # quiet partitions too (trackstream_kafka.compaction)
            asyncio.create_task(
                keep_compaction_moving(
                    self.publisher,
                    [t.name for t in COMPACTED],
                    interval_s=min(t.segment_ms for t in COMPACTED) / 1000,
                    stopping=sweeps_stopping,
                )
            ),
        ]
        await consumer.positions()
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in tasks:
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            sweeps_stopping.set()
            consumer.stop()
            self.exports_participant.stop()
            self.keys_participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await server.stop(5)
            await self.exporter.drain()
            await self.collectors.close()
            await self.publisher.stop()
            tables_stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*loading), 10)
            self.cassandra.close()


def bootstrap(settings: PrivacySettings) -> PrivacyApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    directory = Directory()
    kafka = settings.kafka
    tables: list[CompactedTable[Any]] = [
        CompactedTable(
            kafka,
            REGISTRY,
            DeviceRegistered.FromString,
            client_id="privacy-registry",
            on_change=directory.device_changed,
        ),
        CompactedTable(
            kafka,
            ACCOUNTS,
            AccountChanged.FromString,
            client_id="privacy-accounts",
            on_change=directory.account_changed,
        ),
    ]
    publisher = EventPublisher.create(kafka, source="/privacy")
    signing_key = SigningKey.load_or_create(settings.signing_key_file)
    eraser = Eraser(
        ledger=Ledger(cassandra),
        publisher=publisher,
        directory=directory,
        signing_key=signing_key,
        ledger_key=settings.ledger_key.get_secret_value().encode(),
        retention=retention_topics(),
        resend_interval=timedelta(seconds=settings.resend_interval_s),
    )
    collectors = ServiceCollectors(
        identity=settings.identity_address,
        history=settings.history_address,
        alarm=settings.alarm_address,
        media=settings.media_address,
        notification=settings.notification_address,
        earliest_day=settings.export_earliest_day,
        future_days=settings.export_future_days,
    )
    exporter = Exporter(
        store=ExportStore(cassandra, record_ttl=timedelta(seconds=settings.export_record_ttl_s)),
        bucket=ArchiveBucket(make_client(settings.s3), EXPORTS_BUCKET),
        data=collectors,
        owned_devices=functools.partial(devices_owned_by, directory.device_owner),
        url_ttl=timedelta(seconds=settings.export_url_ttl_s),
        stale_after=timedelta(seconds=settings.export_stale_s),
        concurrency=settings.export_concurrency,
    )
    exports_participant = ErasureParticipant(
        settings=kafka,
        participant="privacy-exports",
        erase=exporter.erase,
        publisher=publisher,
        group_id=settings.export_erasure_group,
    )
    keys_participant = ErasureParticipant(
        settings=kafka,
        participant=KEYS_PARTICIPANT,
        erase=KeyShredder(
            DataKeys(CassandraDataKeyStore(cassandra)),
            gc_grace_s=functools.partial(cassandra.gc_grace_seconds, KEYS_TABLE),
        ).erase,
        publisher=publisher,
        group_id=settings.keys_erasure_group,
    )
    return PrivacyApp(
        settings=settings,
        keys_participant=keys_participant,
        cassandra=cassandra,
        eraser=eraser,
        api=PrivacyApi(eraser=eraser, signing_key=signing_key, exporter=exporter),
        tables=tables,
        publisher=publisher,
        exporter=exporter,
        exports_participant=exports_participant,
        collectors=collectors,
    )
