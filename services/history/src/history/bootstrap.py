"""The only composition root of the history service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from history.adapters.grpc_api import serve_grpc
from history.adapters.store import PositionStore
from history.config import HistorySettings
from history.erasure import PARTICIPANT, HistoryErasure
from history.handlers import AddressWriter, HistoryHandler, PositionWriter, StoreHealth
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.table import CompactedTable
from trackstream_servicekit.retention_sweep import sweep_devices, sweep_forever

POSITIONS = "tracking.positions.v1"
ADDRESSES = "geocoding.addresses.v1"
REGISTRY_TOPIC = "identity.device-registry.v1"
ACCOUNTS_TOPIC = "identity.accounts.v1"


@dataclass
class HistoryApp:
    settings: HistorySettings
    store: PositionStore
    cassandra: CassandraStore
    health: StoreHealth
    writer: PositionWriter
    addresses: AddressWriter
    registry: CompactedTable[DeviceRegistered]
    accounts: CompactedTable[AccountChanged]
    retention: AccountRetentionPolicy
    erasure: HistoryErasure
    #: opens the sealed fields of positions (trackstream_kafka.sealing)
    data_keys: DataKeys
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def sweep_retention(self, now: datetime | None = None) -> dict[str, int]:
        """One retention round: every registered device's positions older than its account's
        retention (the whole days before it), by the day index."""
        return await sweep_devices(
            ((d, r.owner_account_id) for d, r in self.registry.items()),
            self.retention.days,
            self.store.delete_older,
            kind=DataKind.POSITIONS.value,
            now=now or datetime.now(UTC),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        # device -> account -> retention first, so every row gets its account's retention
        tables = [
            asyncio.create_task(table.run(stopping)) for table in (self.registry, self.accounts)
        ]
        ready: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(self.registry.ready.wait(), self.accounts.ready.wait())
        )
        await asyncio.wait({ready, *tables}, return_when=asyncio.FIRST_COMPLETED)
        for table in tables:
            if table.done():
                table.result()
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
        sweeps_stopping = asyncio.Event()
        sweeping = asyncio.create_task(
            sweep_forever(
                self.sweep_retention,
                kind=DataKind.POSITIONS.value,
                interval_s=s.retention_sweep_interval_s,
                stopping=sweeps_stopping,
            )
        )
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait(
                {consuming, erasing, sweeping, waiter}, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            for task in (consuming, erasing, sweeping):
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            sweeps_stopping.set()
            consumer.stop()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(consuming, erasing), 30)
            await server.stop(5)
            await dead_letters.stop()
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(sweeping, *tables), 10)
            self.cassandra.close()


def bootstrap(settings: HistorySettings) -> HistoryApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    store = PositionStore(cassandra, concurrency=settings.write_concurrency)
    health = StoreHealth()
    registry: CompactedTable[DeviceRegistered] = CompactedTable(
        settings.kafka, REGISTRY_TOPIC, DeviceRegistered.FromString, client_id="history-registry"
    )
    accounts: CompactedTable[AccountChanged] = CompactedTable(
        settings.kafka, ACCOUNTS_TOPIC, AccountChanged.FromString, client_id="history-accounts"
    )
    policy = AccountRetentionPolicy(
        DataKind.POSITIONS, settings.retention_days, lookup=accounts.get
    )

    def retention(device_id: str) -> int:
        registered = registry.get(device_id)
        return policy.ttl_seconds(registered.owner_account_id if registered else None)

    return HistoryApp(
        settings=settings,
        store=store,
        cassandra=cassandra,
        data_keys=DataKeys(CassandraDataKeyStore(cassandra)),
        health=health,
        writer=PositionWriter(store, health, retention),
        addresses=AddressWriter(store, health, retention),
        registry=registry,
        accounts=accounts,
        retention=policy,
        erasure=HistoryErasure(cassandra, future_tolerance_s=settings.future_tolerance_s),
    )
