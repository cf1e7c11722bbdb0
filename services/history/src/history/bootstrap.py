"""The only composition root of the history service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from history.adapters.grpc_api import serve_grpc
from history.adapters.store import PositionStore
from history.config import HistorySettings
from history.handlers import PositionWriter, StoreHealth
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher

POSITIONS = "tracking.positions.v1"


@dataclass
class HistoryApp:
    settings: HistorySettings
    store: PositionStore
    cassandra: CassandraStore
    health: StoreHealth
    writer: PositionWriter
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        dead_letters = EventPublisher.create(s.kafka, source="/history")
        await dead_letters.start()
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[POSITIONS],
            batch_handler=self.writer.handle,
            registry=default_registry(),
            dead_letters=dead_letters,
        )
        await consumer.start()
        server, self.grpc_port = await serve_grpc(self.store, s.grpc_host, s.grpc_port)
        consuming = asyncio.create_task(consumer.run())
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({consuming, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if consuming.done():
                consuming.result()
        finally:
            self.ready.clear()
            consumer.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consuming, 30)
            await server.stop(5)
            await dead_letters.stop()
            self.cassandra.close()


def bootstrap(settings: HistorySettings) -> HistoryApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    store = PositionStore(
        cassandra, concurrency=settings.write_concurrency, retention_days=settings.retention_days
    )
    health = StoreHealth()
    return HistoryApp(
        settings=settings,
        store=store,
        cassandra=cassandra,
        health=health,
        writer=PositionWriter(store, health),
    )
