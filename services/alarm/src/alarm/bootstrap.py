"""The only composition root of the alarm service."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from alarm.adapters.changelog import StateRestorer
from alarm.adapters.grpc_api import AlarmApi, serve_grpc
from alarm.adapters.store import AlarmStore
from alarm.config import AlarmSettings
from alarm.domain.engine import Engine
from alarm.erasure import PARTICIPANT, AlarmErasure
from alarm.handlers import (
    ALARMS,
    DEVICE_ALARMS,
    GEOFENCES,
    POSITIONS,
    RULES,
    AlarmProcessor,
    Definitions,
    HistoryWriter,
)
from trackstream.alarm.v1.geofence_pb2 import Geofence, Rule
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

REGISTRY_TOPIC = "identity.device-registry.v1"
ACCOUNTS_TOPIC = "identity.accounts.v1"


class Directory:
    """Accounts and device owners, from identity's compacted topics. An account is known when
    identity published it or owns a registered device."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._device_counts: Counter[str] = Counter()
        self._accounts: set[str] = set()

    def device_changed(self, device_id: str, value: DeviceRegistered | None) -> None:
        old = self._owners.pop(device_id, None)
        if old is not None:
            self._device_counts[old] -= 1
            if self._device_counts[old] <= 0:
                del self._device_counts[old]
        if value is not None and not value.disabled and value.owner_account_id:
            self._owners[device_id] = value.owner_account_id
            self._device_counts[value.owner_account_id] += 1

    def account_changed(self, account_id: str, value: AccountChanged | None) -> None:
        if value is None or value.disabled:
            self._accounts.discard(account_id)
        else:
            self._accounts.add(account_id)

    def owner_of(self, device_id: str) -> str | None:
        return self._owners.get(device_id)

    def account_of(self, device_id: str) -> str:
        return self._owners.get(device_id, "")

    def account_exists(self, account_id: str) -> bool:
        return account_id in self._accounts or account_id in self._device_counts


@dataclass
class Tables:
    """The compacted topics the service holds in memory."""

    registry: CompactedTable[DeviceRegistered]
    accounts: CompactedTable[AccountChanged]
    geofences: CompactedTable[Geofence]
    rules: CompactedTable[Rule]

    def all(self) -> list[CompactedTable[Any]]:
        return [self.registry, self.accounts, self.geofences, self.rules]


@dataclass
class AlarmApp:
    settings: AlarmSettings
    processor: AlarmProcessor
    definitions: Definitions
    directory: Directory
    store: AlarmStore
    cassandra: CassandraStore
    tables: Tables
    publisher: EventPublisher
    erasure: AlarmErasure
    retention: AccountRetentionPolicy
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def sweep_retention(self, now: datetime | None = None) -> dict[str, int]:
        """One retention round: every registered device's alarms older than its account's
        retention (the whole days before it), by the day index."""
        return await sweep_devices(
            ((d, r.owner_account_id) for d, r in self.tables.registry.items()),
            self.retention.days,
            self.store.delete_older,
            kind=DataKind.ALARMS.value,
            now=now or datetime.now(UTC),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        tables_stopping = asyncio.Event()
        # who owns what, and the geofences and rules, before the first position
        loading = [asyncio.create_task(t.run(tables_stopping)) for t in self.tables.all()]
        waiting: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(t.ready.wait() for t in self.tables.all()))
        )
        done, _ = await asyncio.wait({*loading, waiting}, return_when=asyncio.FIRST_COMPLETED)
        for task in loading:
            if task in done:
                task.result()
        # the geofence index before the first position (not in the first batch's time)
        _ = self.definitions.index
        await self.publisher.start()
        engine_consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[POSITIONS, DEVICE_ALARMS],
            batch_handler=self.processor.handle,
            registry=default_registry(),
            dead_letters=self.publisher,
            rebalance_listener=StateRestorer(self.processor, s.kafka),
            auto_offset_reset=s.new_group_start,
            data_keys=self.publisher.data_keys,
        )
        history_consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.history_group,
            topics=[ALARMS],
            batch_handler=HistoryWriter(self.store).handle,
            registry=default_registry(),
            dead_letters=self.publisher,
            data_keys=self.publisher.data_keys,
        )
        api = AlarmApi(
            definitions=self.definitions,
            directory=self.directory,
            publisher=self.publisher,
            store=self.store,
            apply_fence=self.tables.geofences.apply,
            apply_rule=self.tables.rules.apply,
        )
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=PARTICIPANT,
            erase=self.erasure.erase,
            publisher=self.publisher,
            group_id=f"{s.consumer_group}-erasure",
        )
        await engine_consumer.start()
        await history_consumer.start()
        await participant.start()
        server, self.grpc_port = await serve_grpc(api, s.grpc_host, s.grpc_port)
        sweeps_stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(engine_consumer.run()),
            asyncio.create_task(history_consumer.run()),
            asyncio.create_task(self.processor.run_sweeps(sweeps_stopping, s.sweep_interval_s)),
            asyncio.create_task(participant.run()),
            asyncio.create_task(
                sweep_forever(
                    self.sweep_retention,
                    kind=DataKind.ALARMS.value,
                    interval_s=s.retention_sweep_interval_s,
                    stopping=sweeps_stopping,
                )
            ),
        ]
        # ready once the group assigned our partitions, their states are loaded and the
        # positions we start from are known
        assigned = asyncio.create_task(self.processor.assigned.wait())
        await asyncio.wait({assigned, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        if assigned.done():
            await engine_consumer.positions()
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
            engine_consumer.stop()
            history_consumer.stop()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await server.stop(5)
            await self.publisher.stop()
            tables_stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*loading), 10)
            self.cassandra.close()


def bootstrap(settings: AlarmSettings) -> AlarmApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    definitions = Definitions()
    directory = Directory()
    kafka = settings.kafka
    tables = Tables(
        CompactedTable(
            kafka,
            REGISTRY_TOPIC,
            DeviceRegistered.FromString,
            client_id="alarm-registry",
            on_change=directory.device_changed,
        ),
        CompactedTable(
            kafka,
            ACCOUNTS_TOPIC,
            AccountChanged.FromString,
            client_id="alarm-accounts",
            on_change=directory.account_changed,
        ),
        CompactedTable(
            kafka,
            GEOFENCES,
            Geofence.FromString,
            client_id="alarm-geofences",
            on_change=definitions.fence_changed,
        ),
        CompactedTable(
            kafka,
            RULES,
            Rule.FromString,
            client_id="alarm-rules",
            on_change=definitions.rule_changed,
        ),
    )
    # one key cache for what the engine opens and what it seals (trackstream_kafka.sealing)
    publisher = EventPublisher.create(
        kafka, source="/alarm", data_keys=DataKeys(CassandraDataKeyStore(cassandra))
    )
    processor = AlarmProcessor(
        publisher=publisher,
        definitions=definitions,
        account_of=directory.account_of,
        engine=Engine(moving_speed_kmh=settings.moving_speed_kmh),
    )
    erasure = AlarmErasure(
        cassandra=cassandra,
        publisher=publisher,
        processor=processor,
        definitions=definitions,
        geofences=tables.geofences,
        rules=tables.rules,
    )
    # each account's alarm retention (its own, an ancestor's, or the platform's) by device
    retention = AccountRetentionPolicy(
        DataKind.ALARMS, settings.retention_days, lookup=tables.accounts.get
    )

    def retention_days(device_id: str) -> int:
        registered = tables.registry.get(device_id)
        return retention.days(registered.owner_account_id if registered else None)

    store = AlarmStore(
        cassandra, concurrency=settings.write_concurrency, retention_days=retention_days
    )
    return AlarmApp(
        settings=settings,
        processor=processor,
        definitions=definitions,
        directory=directory,
        store=store,
        cassandra=cassandra,
        tables=tables,
        publisher=publisher,
        erasure=erasure,
        retention=retention,
    )
