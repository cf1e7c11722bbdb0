"""The only composition root of the history service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from history.adapters.grpc_api import serve_grpc
from history.adapters.store import PositionStore
from history.config import HistorySettings
from history.domain.retention import RetentionPolicy
from history.erasure import PARTICIPANT, HistoryErasure
from history.handlers import AddressWriter, HistoryHandler, PositionWriter, StoreHealth
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.table import CompactedTable

POSITIONS = "tracking.positions.v1"
ADDRESSES = "geocoding.addresses.v1"
REGISTRY_TOPIC = "identity.device-registry.v1"


@dataclass
class HistoryApp:
    settings: HistorySettings
    store: PositionStore
    cassandra: CassandraStore
    health: StoreHealth
    writer: PositionWriter
    addresses: AddressWriter
    accounts: CompactedTable[DeviceRegistered]
    erasure: HistoryErasure
    #: opens the sealed fields of positions (trackstream_kafka.sealing)
    data_keys: DataKeys
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        # device -> account first, so every row gets its account's retention
        accounts = asyncio.create_task(self.accounts.run(stopping))
        ready = asyncio.create_task(self.accounts.ready.wait())
        await asyncio.wait({ready, accounts}, return_when=asyncio.FIRST_COMPLETED)
        if accounts.done():
            accounts.result()
        dead_letters = EventPublisher.create(s.kafka, source="/history")
        await dead_letters.start()
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[POSITIONS, ADDRESSES],
            batch_handler=HistoryHandler(self.writer, self.addresses).handle,
            registry=default_registry(),
            dead_letters=dead_letters,
            data_keys=self.data_keys,
        )
        await consumer.start()
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=PARTICIPANT,
            erase=self.erasure.erase,
            publisher=dead_letters,
            group_id=f"{s.consumer_group}-erasure",
        )
        await participant.start()
        server, self.grpc_port = await serve_grpc(self.store, s.grpc_host, s.grpc_port)
        consuming = asyncio.create_task(consumer.run())
        erasing = asyncio.create_task(participant.run())
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({consuming, erasing, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in (consuming, erasing):
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            consumer.stop()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(consuming, erasing), 30)
            await server.stop(5)
            await dead_letters.stop()
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(accounts, 10)
            self.cassandra.close()


def bootstrap(settings: HistorySettings) -> HistoryApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    store = PositionStore(cassandra, concurrency=settings.write_concurrency)
    health = StoreHealth()
    accounts: CompactedTable[DeviceRegistered] = CompactedTable(
        settings.kafka, REGISTRY_TOPIC, DeviceRegistered.FromString, client_id="history-accounts"
    )
    policy = RetentionPolicy(settings.retention_days, settings.account_retention_days)

    def retention(device_id: str) -> int:
        registered = accounts.get(device_id)
        return policy.ttl_seconds(registered.owner_account_id if registered else None)

    return HistoryApp(
        settings=settings,
        store=store,
        cassandra=cassandra,
        data_keys=DataKeys(CassandraDataKeyStore(cassandra)),
        health=health,
        writer=PositionWriter(store, health, retention),
        addresses=AddressWriter(store, health, retention),
        accounts=accounts,
        erasure=HistoryErasure(cassandra, future_tolerance_s=settings.future_tolerance_s),
    )
