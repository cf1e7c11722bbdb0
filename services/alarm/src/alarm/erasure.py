"""Alarm's part in an erasure (docs/architecture.md, "Erasure").

* Cassandra: every alarm of the order's devices, by partition deletes driven by the day index
  ``alarm_days_by_device`` (``alarm_by_id`` rows found in those partitions); the index last, so
  a crash half-way leaves it pointing at what is left and the re-sent order finishes it.
* ``alarm.device-state.v1``: a tombstone per device (the engine's changelog).
* ``alarm.geofences.v1`` / ``alarm.rules.v1``: tombstones for the erased accounts' fences and
  rules; a fence or rule of another account that names an erased device is republished
  without it (tombstoned if it named no other device: an empty list means "every device").
* ``memory:engine``: the devices' states leave the running engine and the fences and rules
  leave its definitions at once, so nothing is raised for them any more.

Idempotent: a second run finds no alarm rows, no state, no fence or rule, and counts 0. The
device-state tombstones are written again on every run (this instance may not hold the state
of every device: another instance's partition), but only a state this instance held, or a
device with stored alarms, counts as deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from alarm.adapters.store import ALARMS, BY_ID, DAYS, AlarmStore
from alarm.handlers import DEVICE_STATE, GEOFENCES, RULES, AlarmProcessor, Definitions
from trackstream.alarm.v1.geofence_pb2 import Geofence, Rule
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_cassandra import CassandraStore
from trackstream_kafka import EventPublisher
from trackstream_kafka.erasure import cassandra_rows_erased, tombstone_keys
from trackstream_kafka.table import CompactedTable

PARTICIPANT = "alarm"

M = TypeVar("M", Geofence, Rule)


class AlarmErasure:
    def __init__(
        self,
        *,
        cassandra: CassandraStore,
        publisher: EventPublisher,
        processor: AlarmProcessor,
        definitions: Definitions,
        geofences: CompactedTable[Geofence],
        rules: CompactedTable[Rule],
    ) -> None:
        self._db = cassandra
        self._alarms = AlarmStore(cassandra)
        self._publisher = publisher
        self._processor = processor
        self._definitions = definitions
        self._geofences = geofences
        self._rules = rules

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        devices, accounts = list(order.device_ids), set(order.account_ids)
        counts = dict.fromkeys((ALARMS, DAYS, BY_ID), 0)
        with_alarms: set[str] = set()
        for device_id in devices:
            erased = await self._alarms.delete_device(device_id)
            for table, n in erased.items():
                counts[table] += n
            if erased[DAYS]:
                with_alarms.add(device_id)
        stores = [
            cassandra_rows_erased(t, n, gc_grace_s=await self._db.gc_grace_seconds(t))
            for t, n in counts.items()
        ]
        # the running engine first: no alarm for these devices or definitions from now on
        async with self._processor.lock:
            held = {d for d in devices if d in self._processor.states}
            for device_id in devices:
                self._processor.states.pop(device_id, None)
                self._processor.partition_of.pop(device_id, None)
        fences = await self._definitions_erased(
            GEOFENCES, self._geofences, self._definitions.fence_messages, devices, accounts
        )
        rules = await self._definitions_erased(
            RULES, self._rules, self._definitions.rule_messages, devices, accounts
        )
        states = await tombstone_keys(self._publisher, DEVICE_STATE, devices)
        states.deleted = len(held | with_alarms)
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        engine = StoreErased(
            store="memory:engine",
            mechanism="cache-drop",
            deleted=len(held) + fences.deleted + rules.deleted,
            physically_gone_by=now,
        )
        return [*stores, states, fences, rules, engine]

    async def _definitions_erased(
        self,
        topic: str,
        table: CompactedTable[M],
        messages: dict[str, M],
        devices: Iterable[str],
        accounts: set[str],
    ) -> StoreErased:
        """Tombstones for the accounts' definitions and for those left naming no device; the
        others naming an erased device are republished without it."""
        erased_devices = set(devices)
        gone: list[str] = []
        narrowed: list[M] = []
        for key, message in list(messages.items()):
            if message.account_id in accounts:
                gone.append(key)
            elif erased_devices & set(message.device_ids):
                remaining = [d for d in message.device_ids if d not in erased_devices]
                if not remaining:
                    gone.append(key)
                else:
                    copy = type(message)()
                    copy.CopyFrom(message)
                    del copy.device_ids[:]
                    copy.device_ids.extend(remaining)
                    narrowed.append(copy)
        for message in narrowed:
            key = _key_of(message)
            await self._publisher.publish(topic, message, key=key)
            table.apply(key, message)
        erased = await tombstone_keys(self._publisher, topic, gone)
        for key in gone:
            table.apply(key, None)
        erased.deleted += len(narrowed)
        return erased


def _key_of(message: Geofence | Rule) -> str:
    return message.geofence_id if isinstance(message, Geofence) else message.rule_id
