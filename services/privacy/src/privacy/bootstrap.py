"""The only composition root of the privacy service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from privacy.adapters.grpc_api import PrivacyApi, serve_grpc
from privacy.adapters.ledger import Ledger
from privacy.config import PrivacySettings
from privacy.domain.plan import retention_topics
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
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.table import CompactedTable


@dataclass
class PrivacyApp:
    settings: PrivacySettings
    cassandra: CassandraStore
    eraser: Eraser
    api: PrivacyApi
    tables: list[CompactedTable[Any]]
    publisher: EventPublisher
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def _sweeps(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            await self.eraser.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.sweep_interval_s)

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
        server, self.grpc_port = await serve_grpc(self.api, s.grpc_host, s.grpc_port)
        sweeps_stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(consumer.run()),
            asyncio.create_task(self._sweeps(sweeps_stopping)),
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
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await server.stop(5)
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
    return PrivacyApp(
        settings=settings,
        cassandra=cassandra,
        eraser=eraser,
        api=PrivacyApi(eraser=eraser, signing_key=signing_key),
        tables=tables,
        publisher=publisher,
    )
