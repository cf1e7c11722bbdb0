"""The alarm engine as a consumer: per-device state, kept consistent with the input offsets.

* Positions (``tracking.positions.v1``) drive the stateful rules. Each device's state lives in
  memory for the partitions this instance owns and in the compacted changelog
  ``alarm.device-state.v1`` (partitioned like the positions), restored on assignment.
* Each state records the last input offset applied to it. A batch publishes its alarms, then
  the changed states (both acknowledged), and only then are the input offsets committed. A crash
  before the commit replays the batch: positions the restored state already holds are skipped
  (no duplicate alarm), and those it does not are applied again and raise the same alarm ids
  (a crash between the alarms and the states republishes alarms with identical ids and
  ``ce_id``, which the history store and notifications treat as one).
* Device alarms (``tracking.device-alarms.v1``) are stateless: normalised to the catalogue,
  with an id stable across retransmissions and replays.
* The sweep runs the timers (offline, idle, parked too long, dwell) against the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from prometheus_client import Counter, Histogram

from alarm.adapters.codec import (
    alarm_message,
    device_alarm_of,
    geofence_of,
    position_of,
    rule_of,
    state_message,
)
from alarm.adapters.store import AlarmStore
from alarm.domain.catalogue import normalise
from alarm.domain.engine import DeviceState, Engine, device_alarm
from alarm.domain.geofences import FenceIndex, Geofence, validate_geofence
from alarm.domain.model import Alarm, InvalidInput, Position
from alarm.domain.rules import DeviceRules, Rule, validate_rule
from trackstream.alarm.v1 import alarm_pb2, geofence_pb2
from trackstream.tracking.v1 import alarm_pb2 as device_alarm_pb2
from trackstream.tracking.v1 import position_pb2
from trackstream_kafka import ConsumedEvent, PublishError, RetryableError
from trackstream_kafka.publisher import Outgoing

log = logging.getLogger(__name__)

POSITIONS = "tracking.positions.v1"
DEVICE_ALARMS = "tracking.device-alarms.v1"
ALARMS = "alarm.alarms.v1"
DEVICE_STATE = "alarm.device-state.v1"
GEOFENCES = "alarm.geofences.v1"
RULES = "alarm.rules.v1"

ALARMS_RAISED = Counter("trackstream_alarms_raised_total", "Alarms raised, by type", ["type"])
SKIPPED_REPLAYED = Counter(
    "trackstream_alarm_positions_skipped_total",
    "Positions the restored device state already held (a replay after a crash)",
)
_NO_RULES = DeviceRules()
SWEEP_SECONDS = Histogram("trackstream_alarm_sweep_seconds", "Time of one timer sweep")


class Publisher(Protocol):
    async def publish_many(self, items: list[Outgoing]) -> object: ...

    async def publish_records(
        self, topic: str, records: Sequence[tuple[str, bytes | None]]
    ) -> None: ...


class Definitions:
    """The geofences and rules in force, from their compacted topics; the fence index is
    rebuilt (once) after a change, when next needed."""

    def __init__(self) -> None:
        #: the records as published, for listing
        self.fence_messages: dict[str, geofence_pb2.Geofence] = {}
        self.rule_messages: dict[str, geofence_pb2.Rule] = {}
        self._fences: dict[str, Geofence] = {}
        self._rules: dict[str, Rule] = {}
        self._rules_by_account: dict[str, list[Rule]] = {}
        #: the rules applying, made on first use: per account when none of its rules is bound
        #: to devices (the same for every device), else per (account, device)
        self._account_rules: dict[str, DeviceRules] = {}
        self._device_rules: dict[tuple[str, str], DeviceRules] = {}
        self._index: FenceIndex | None = FenceIndex([])
        self.version = 0

    def fence_changed(self, geofence_id: str, message: geofence_pb2.Geofence | None) -> None:
        self._fences.pop(geofence_id, None)
        self.fence_messages.pop(geofence_id, None)
        if message is not None:
            fence = geofence_of(message)
            try:
                validate_geofence(fence)
            except InvalidInput:  # the API refuses these; a stray record is skipped
                # (no reason in the log: it can quote coordinates)
                log.error("unusable geofence skipped", extra={"geofence_id": geofence_id})
            else:
                self._fences[geofence_id] = fence
                self.fence_messages[geofence_id] = message
        self._index = None
        self.version += 1

    def rule_changed(self, rule_id: str, message: geofence_pb2.Rule | None) -> None:
        self._rules.pop(rule_id, None)
        self.rule_messages.pop(rule_id, None)
        if message is not None:
            rule = rule_of(message)
            try:
                validate_rule(rule)
            except InvalidInput as err:
                log.error("unusable rule skipped", extra={"rule_id": rule_id, "reason": str(err)})
            else:
                self._rules[rule_id] = rule
                self.rule_messages[rule_id] = message
        by_account: dict[str, list[Rule]] = {}
        for r in self._rules.values():
            by_account.setdefault(r.account_id, []).append(r)
        self._rules_by_account = by_account
        self._account_rules = {}
        self._device_rules = {}
        self.version += 1

    @property
    def index(self) -> FenceIndex:
        if self._index is None:
            started = time.perf_counter()
            self._index = FenceIndex(list(self._fences.values()))
            log.info(
                "geofence index built",
                extra={"fences": len(self._index), "seconds": time.perf_counter() - started},
            )
        return self._index

    def rules_of(self, account_id: str) -> list[Rule]:
        return self._rules_by_account.get(account_id, [])

    def rules_for(self, account_id: str, device_id: str) -> DeviceRules:
        """The account's rules that apply to the device, ready for the engine."""
        found = self._account_rules.get(account_id)
        if found is not None:
            return found
        found = self._device_rules.get((account_id, device_id))
        if found is None:
            rules = self._rules_by_account.get(account_id, [])
            found = DeviceRules.of(rules, device_id)
            if any(r.device_ids for r in rules):
                self._device_rules[(account_id, device_id)] = found
            else:
                self._account_rules[account_id] = found
        return found

    def fence(self, geofence_id: str) -> Geofence | None:
        return self._fences.get(geofence_id)


@dataclass
class AlarmProcessor:
    """Owns the states of the devices on this instance's position partitions."""

    publisher: Publisher
    definitions: Definitions
    account_of: Callable[[str], str]
    engine: Engine = field(default_factory=Engine)
    positions_topic: str = POSITIONS
    alarms_topic: str = ALARMS
    state_topic: str = DEVICE_STATE
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    states: dict[str, DeviceState] = field(default_factory=dict)
    #: the positions partition of each device held
    partition_of: dict[str, int] = field(default_factory=dict)
    owned: set[int] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: set once the group assigned this instance its partitions (and their states are loaded)
    assigned: asyncio.Event = field(default_factory=asyncio.Event)
    #: partitions assigned whose states are still being read from the changelog
    restoring: set[int] = field(default_factory=set)

    # ------------------------------------------------------------------ partitions

    def assign(self, partition: int, states: Iterable[DeviceState]) -> None:
        """A positions partition is ours now, with its devices' states from the changelog."""
        self.owned.add(partition)
        for state in states:
            self.states[state.device_id] = state
            self.partition_of[state.device_id] = partition

    def revoke(self, partitions: Iterable[int]) -> None:
        lost = set(partitions)
        self.owned -= lost
        for device_id in [d for d, p in self.partition_of.items() if p in lost]:
            self.states.pop(device_id, None)
            del self.partition_of[device_id]

    # ------------------------------------------------------------------ input

    async def handle(self, events: list[ConsumedEvent]) -> None:
        """Apply a batch to copies of the states; keep them once the alarms and the states
        are acknowledged (a failure leaves the held states as they were, and the batch is
        retried)."""
        positions = self.positions_topic
        if self.restoring:
            await self._restored(
                {
                    e.partition
                    for e in events
                    if e.topic == positions and e.partition in self.restoring
                }
            )
        async with self.lock:
            alarms, changed = self._apply(events)
            try:
                await self._publish(alarms, changed)
            except PublishError as err:
                raise RetryableError(str(err)) from err
            self.states.update(changed)

    async def _restored(self, partitions: set[int], timeout_s: float = 120.0) -> None:
        """Records of a partition can arrive while its states are still being restored
        (aiokafka fetches as soon as it is assigned): wait for the restore to finish."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while partitions & self.restoring:
            if loop.time() > deadline:
                raise RetryableError("device states still restoring")
            await asyncio.sleep(0.02)

    def _apply(self, events: list[ConsumedEvent]) -> tuple[list[Alarm], dict[str, DeviceState]]:
        alarms: list[Alarm] = []
        changed: dict[str, DeviceState] = {}
        positions_topic, owned, account_of = self.positions_topic, self.owned, self.account_of
        # (event, position, device, account) of every position to apply
        batch: list[tuple[ConsumedEvent, Position, str, str]] = []
        for event in events:
            message = event.message
            if isinstance(message, position_pb2.PositionReported):
                if event.topic == positions_topic and event.partition not in owned:
                    continue  # a partition this instance no longer owns: its new owner replays it
                position = position_of(message)
                device_id = position.device_id or event.key
                batch.append((event, position, device_id, account_of(device_id)))
            elif isinstance(message, device_alarm_pb2.DeviceAlarmReported):
                reported = device_alarm_of(message)
                kind = normalise(reported.protocol_alarm_type, reported.protocol_code)
                alarms.append(device_alarm(reported, kind, account_of(reported.device_id)))
        if not batch:
            return alarms, changed
        definitions, engine, states = self.definitions, self.engine, self.states
        index = definitions.index
        # one STRtree query for the whole batch
        near_fences = index.candidates_many(
            [account_id for *_, account_id in batch],
            [position.latitude for _, position, *_ in batch],
            [position.longitude for _, position, *_ in batch],
        )
        for (event, position, device_id, account_id), near in zip(batch, near_fences, strict=True):
            state = changed.get(device_id)
            if state is None:
                held = states.get(device_id)
                state = held.copy() if held is not None else DeviceState(device_id)
            self.partition_of[device_id] = event.partition
            if state.already_applied(event.topic, event.partition, event.offset):
                SKIPPED_REPLAYED.inc()
                continue
            if account_id:
                placements = (
                    index.place(
                        position.latitude,
                        position.longitude,
                        device_id=device_id,
                        account_id=account_id,
                        candidates=near,
                        also=state.fences,
                    )
                    if near or state.fences
                    else []
                )
                alarms += engine.apply_position(
                    state,
                    position,
                    account_id=account_id,
                    rules=definitions.rules_for(account_id, device_id),
                    placements=placements,
                )
            else:
                alarms += engine.apply_position(
                    state, position, account_id="", rules=_NO_RULES, placements=()
                )
            state.applied[(event.topic, event.partition)] = event.offset
            changed[device_id] = state
        return alarms, changed

    async def _publish(self, alarms: list[Alarm], changed: Mapping[str, DeviceState]) -> None:
        # alarms first: a crash before the states are written replays them with the same ids
        if alarms:
            await self.publisher.publish_many(
                [
                    Outgoing(
                        self.alarms_topic, alarm_message(a), key=a.device_id, event_id=a.alarm_id
                    )
                    for a in alarms
                ]
            )
            for a in alarms:
                ALARMS_RAISED.labels(a.type.name).inc()
        if changed:
            # the changelog is read back only by this service: records without an envelope
            await self.publisher.publish_records(
                self.state_topic,
                [(d, state_message(s).SerializeToString()) for d, s in changed.items()],
            )

    # ------------------------------------------------------------------ timers

    async def sweep(self) -> list[Alarm]:
        """Run the timers of every device held; publish what fired (and the states)."""
        started = time.perf_counter()
        async with self.lock:
            now = self.clock()
            alarms: list[Alarm] = []
            changed: dict[str, DeviceState] = {}
            for device_id, held in self.states.items():
                account_id = self.account_of(device_id)
                if not account_id:
                    continue
                state = held.copy()
                fired = self.engine.sweep(
                    state,
                    now=now,
                    account_id=account_id,
                    rules=self.definitions.rules_for(account_id, device_id),
                    fence=self.definitions.fence,
                )
                if fired:
                    alarms += fired
                    changed[device_id] = state
            await self._publish(alarms, changed)
            self.states.update(changed)
        SWEEP_SECONDS.observe(time.perf_counter() - started)
        return alarms

    async def run_sweeps(self, stopping: asyncio.Event, interval_s: float) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
            if stopping.is_set():
                return
            try:
                await self.sweep()
            except Exception:  # the next sweep retries; the windows are still due
                log.exception("timer sweep failed")


class HistoryWriter:
    """``alarm.alarms.v1`` into the alarm history store (a consumer group of its own)."""

    def __init__(self, store: AlarmStore) -> None:
        self._store = store

    async def handle(self, events: list[ConsumedEvent]) -> None:
        alarms = [e.message for e in events if isinstance(e.message, alarm_pb2.AlarmRaised)]
        if not alarms:
            return
        try:
            await self._store.write(alarms)
        except (DriverException, NoHostAvailable, OSError) as err:
            raise RetryableError(f"alarm store unavailable: {type(err).__name__}") from err
