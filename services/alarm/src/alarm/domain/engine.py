"""The alarm engine of one device: its state, a position applied to it, the timers swept.

Pure and deterministic. Every alarm is stamped from event time (a timer's stamp is the moment
its window elapsed: last fix + offline delay, stop start + idle delay, ...) and identified by
(device, rule or geofence, kind, window start), so replaying the same input raises the same
alarms with the same ids, whether a timer fired from the wall-clock sweep or from the next
position that showed the window had elapsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alarm.domain.catalogue import AlarmType, severity
from alarm.domain.debounce import (
    FenceEdge,
    ThresholdState,
    dwell_due,
    fence_step,
    threshold_step,
)
from alarm.domain.geofences import Geofence, Placement
from alarm.domain.model import Alarm, AlarmOrigin, DeviceAlarm, Position, alarm_id
from alarm.domain.rules import DeviceRules, Rule, RuleKind

_CLEAR = ThresholdState()
_DURATIONS: dict[int, timedelta] = {}


def _seconds(seconds: int) -> timedelta:
    """A duration in seconds, made once per value (rules are evaluated per position)."""
    found = _DURATIONS.get(seconds)
    if found is None:
        found = _DURATIONS[seconds] = timedelta(seconds=seconds)
    return found


#: at or above this speed a device is moving (below: stopped, for idle and parking)
DEFAULT_MOVING_SPEED_KMH = 5.0


@dataclass(slots=True)
class DeviceState:
    device_id: str
    #: the newest position applied
    last: Position | None = None
    ignition: bool | None = None
    ignition_time: datetime | None = None
    moving: bool = False
    stopped_since: datetime | None = None
    #: ignition on and not moving since
    idle_since: datetime | None = None
    #: not moving with the ignition not on since
    parked_since: datetime | None = None
    fences: dict[str, FenceEdge] = field(default_factory=dict)
    thresholds: dict[str, ThresholdState] = field(default_factory=dict)
    #: timers: the window whose alarm was raised, per rule
    raised_windows: dict[str, datetime] = field(default_factory=dict)
    #: input (topic, partition) -> last offset applied to this state
    applied: dict[tuple[str, int], int] = field(default_factory=dict)

    def copy(self) -> DeviceState:
        """An independent copy (the values inside are immutable): work on it, keep it once
        what it raised is durable."""
        return DeviceState(
            self.device_id,
            self.last,
            self.ignition,
            self.ignition_time,
            self.moving,
            self.stopped_since,
            self.idle_since,
            self.parked_since,
            dict(self.fences),
            dict(self.thresholds),
            dict(self.raised_windows),
            dict(self.applied),
        )

    def already_applied(self, topic: str, partition: int, offset: int) -> bool:
        done = self.applied.get((topic, partition))
        return done is not None and offset <= done


def _details(**values: object) -> dict[str, str]:
    return {k: (f"{v:g}" if isinstance(v, float) else str(v)) for k, v in values.items()}


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="microseconds")


def _alarm(
    state: DeviceState,
    account_id: str,
    kind: AlarmType,
    *,
    source_id: str,
    window: datetime,
    time: datetime,
    position: Position | None,
    rule_id: str = "",
    geofence_id: str = "",
    details: dict[str, str] | None = None,
) -> Alarm:
    return Alarm(
        alarm_id=alarm_id(state.device_id, source_id, kind, _iso(window)),
        device_id=state.device_id,
        account_id=account_id,
        type=kind,
        severity=severity(kind),
        origin=AlarmOrigin.PLATFORM,
        time=time,
        position=position,
        rule_id=rule_id,
        geofence_id=geofence_id,
        details=details or {},
    )


def device_alarm(alarm: DeviceAlarm, kind: AlarmType, account_id: str) -> Alarm:
    """A device's own alarm in the catalogue; its id is stable across retransmissions of the
    same alarm (same time, name and code)."""
    window = f"{_iso(alarm.time)}|{alarm.protocol_alarm_type}|{alarm.protocol_code}"
    return Alarm(
        alarm_id=alarm_id(alarm.device_id, "device", kind, window),
        device_id=alarm.device_id,
        account_id=account_id,
        type=kind,
        severity=severity(kind),
        origin=AlarmOrigin.DEVICE,
        time=alarm.time,
        position=alarm.position,
        protocol_code=alarm.protocol_code,
        protocol_alarm_type=alarm.protocol_alarm_type,
        details=dict(alarm.attributes),
    )


@dataclass(frozen=True)
class Engine:
    moving_speed_kmh: float = DEFAULT_MOVING_SPEED_KMH

    # ------------------------------------------------------------------ positions

    def apply_position(
        self,
        state: DeviceState,
        pos: Position,
        *,
        account_id: str,
        rules: Sequence[Rule] | DeviceRules,
        placements: Sequence[Placement],
    ) -> list[Alarm]:
        """Apply one position; the alarms it raises, in a fixed order. ``rules``: the account's
        (those of other devices are ignored), or :meth:`DeviceRules.of` them, made once for
        many positions. ``placements``: the position against the device's fences (including
        those it was inside)."""
        last = state.last
        if last is not None and pos.time <= last.time:
            return []  # late (buffered upload) or repeated: the state has moved past it
        if not isinstance(rules, DeviceRules):
            rules = DeviceRules.of(rules, state.device_id)
        # windows that elapsed while nothing came (the device was silent, idle or parked)
        alarms = (
            self._timers(state, rules.timers, account_id, now=pos.time, strict=True)
            if rules.timers
            else []
        )
        if pos.ignition is not None:
            if rules.ignition and state.ignition is not None and state.ignition != pos.ignition:
                alarms += self._ignition(state, pos, rules.ignition, account_id)
            if state.ignition != pos.ignition:
                state.ignition_time = pos.time
            state.ignition = pos.ignition
        self._motion(state, pos)
        if pos.valid and (placements or state.fences):
            alarms += self._fences(state, pos, placements, account_id)
        if rules.thresholds:
            alarms += self._thresholds(state, pos, rules.thresholds, account_id)
        state.last = pos
        return alarms

    def _ignition(
        self, state: DeviceState, pos: Position, rules: Sequence[Rule], account_id: str
    ) -> list[Alarm]:
        """The ignition switched: an alarm per ignition rule."""
        kind = AlarmType.IGNITION_ON if pos.ignition else AlarmType.IGNITION_OFF
        return [
            _alarm(
                state,
                account_id,
                kind,
                source_id=rule.rule_id,
                window=pos.time,
                time=pos.time,
                position=pos,
                rule_id=rule.rule_id,
            )
            for rule in rules
        ]

    def _motion(self, state: DeviceState, pos: Position) -> None:
        if pos.valid:
            state.moving = pos.speed_kmh >= self.moving_speed_kmh
        if state.moving:
            state.stopped_since = state.idle_since = state.parked_since = None
            return
        state.stopped_since = state.stopped_since or pos.time
        if state.ignition:
            state.idle_since = state.idle_since or pos.time
            state.parked_since = None
        else:
            state.parked_since = state.parked_since or pos.time
            state.idle_since = None

    def _fences(
        self, state: DeviceState, pos: Position, placements: Sequence[Placement], account_id: str
    ) -> list[Alarm]:
        alarms: list[Alarm] = []
        seen: set[str] = set()
        for placement in placements:
            fence = placement.fence
            seen.add(fence.geofence_id)
            edge = state.fences.get(fence.geofence_id, FenceEdge())
            edge, crossed = fence_step(
                edge,
                inside=placement.inside,
                within_margin=placement.within_margin,
                at=pos.time,
                confirm=timedelta(seconds=fence.confirm_s),
            )
            if crossed is not None and (
                fence.alarm_on_enter if crossed.entered else fence.alarm_on_exit
            ):
                kind = AlarmType.GEOFENCE_ENTER if crossed.entered else AlarmType.GEOFENCE_EXIT
                alarms.append(
                    _alarm(
                        state,
                        account_id,
                        kind,
                        source_id=fence.geofence_id,
                        window=crossed.at,
                        time=crossed.at,
                        position=pos,
                        geofence_id=fence.geofence_id,
                    )
                )
            edge, dwell = self._dwell(state, edge, fence, account_id, now=pos.time, position=pos)
            alarms += dwell
            if edge.inside or edge.pending_since is not None:
                state.fences[fence.geofence_id] = edge
            else:
                state.fences.pop(fence.geofence_id, None)  # outside is the default
        for gone in [g for g in state.fences if g not in seen]:
            del state.fences[gone]  # deleted or unbound fence
        return alarms

    def _dwell(
        self,
        state: DeviceState,
        edge: FenceEdge,
        fence: Geofence,
        account_id: str,
        *,
        now: datetime,
        position: Position | None,
    ) -> tuple[FenceEdge, list[Alarm]]:
        due = dwell_due(edge, timedelta(seconds=fence.dwell_alarm_s), now)
        if due is None or edge.since is None:
            return edge, []
        alarm = _alarm(
            state,
            account_id,
            AlarmType.GEOFENCE_DWELL,
            source_id=fence.geofence_id,
            window=edge.since,
            time=due,
            position=position,
            geofence_id=fence.geofence_id,
            details=_details(dwell_s=fence.dwell_alarm_s),
        )
        return FenceEdge(edge.inside, edge.since, edge.pending_since, dwell_raised=True), [alarm]

    def _thresholds(
        self, state: DeviceState, pos: Position, rules: Sequence[Rule], account_id: str
    ) -> list[Alarm]:
        alarms: list[Alarm] = []
        thresholds = state.thresholds
        for rule in rules:
            kind = rule.kind
            # absent: clear (nothing pending, nothing raised)
            before = thresholds.get(rule.rule_id)
            if kind is RuleKind.OVERSPEED:
                if not pos.valid or (before is None and pos.speed_kmh <= rule.speed_limit_kmh):
                    continue  # clear and not beyond: stays clear
                after, raised = threshold_step(
                    before or _CLEAR,
                    pos.speed_kmh,
                    pos.time,
                    limit=rule.speed_limit_kmh,
                    hysteresis=rule.speed_hysteresis_kmh,
                    min_duration=_seconds(rule.min_duration_s),
                )
                alarm_type = AlarmType.OVERSPEED
            elif kind is RuleKind.MOVEMENT_WHILE_ARMED:
                limit = rule.armed_speed_kmh
                if not pos.valid or (before is None and pos.speed_kmh <= limit):
                    continue
                after, raised = threshold_step(
                    before or _CLEAR,
                    pos.speed_kmh,
                    pos.time,
                    limit=limit,
                    hysteresis=min(limit, 2.0),
                    min_duration=_seconds(rule.min_duration_s),
                )
                alarm_type = AlarmType.MOVEMENT_WHILE_ARMED
            elif kind is RuleKind.LOW_BATTERY:
                battery = pos.battery_percent
                if battery is None or (before is None and battery >= rule.battery_below_percent):
                    continue
                after, raised = threshold_step(
                    before or _CLEAR,
                    float(battery),
                    pos.time,
                    limit=float(rule.battery_below_percent),
                    hysteresis=rule.battery_hysteresis_percent,
                    min_duration=_seconds(rule.min_duration_s),
                    above=False,
                )
                alarm_type = AlarmType.LOW_BATTERY_THRESHOLD
            else:
                continue
            if after == _CLEAR:
                thresholds.pop(rule.rule_id, None)
            elif after != before:
                thresholds[rule.rule_id] = after
            if raised is not None:
                if kind is RuleKind.LOW_BATTERY:
                    details = _details(
                        battery_percent=pos.battery_percent, threshold=rule.battery_below_percent
                    )
                elif kind is RuleKind.OVERSPEED:
                    details = _details(speed_kmh=pos.speed_kmh, limit_kmh=rule.speed_limit_kmh)
                else:
                    details = _details(speed_kmh=pos.speed_kmh)
                alarms.append(
                    _alarm(
                        state,
                        account_id,
                        alarm_type,
                        source_id=rule.rule_id,
                        window=raised.window_start,
                        time=pos.time,
                        position=pos,
                        rule_id=rule.rule_id,
                        details=details,
                    )
                )
        return alarms

    # ------------------------------------------------------------------ timers

    def sweep(
        self,
        state: DeviceState,
        *,
        now: datetime,
        account_id: str,
        rules: Sequence[Rule] | DeviceRules,
        fence: Callable[[str], Geofence | None],
    ) -> list[Alarm]:
        """The timers due by ``now`` (wall clock): offline, idle, parked too long, dwell."""
        if not isinstance(rules, DeviceRules):
            rules = DeviceRules.of(rules, state.device_id)
        alarms = self._timers(state, rules.timers, account_id, now=now, strict=False)
        for geofence_id in sorted(state.fences):
            definition = fence(geofence_id)
            if definition is None:
                continue
            edge, dwell = self._dwell(
                state,
                state.fences[geofence_id],
                definition,
                account_id,
                now=now,
                position=state.last,
            )
            state.fences[geofence_id] = edge
            alarms += dwell
        return alarms

    def _timers(
        self,
        state: DeviceState,
        rules: Sequence[Rule],
        account_id: str,
        *,
        now: datetime,
        strict: bool,
    ) -> list[Alarm]:
        alarms: list[Alarm] = []
        last = state.last
        for rule in rules:
            if rule.kind is RuleKind.OFFLINE and last is not None:
                window, delay, kind = last.time, rule.offline_after_s, AlarmType.OFFLINE
            elif rule.kind is RuleKind.IDLE and state.idle_since is not None:
                window, delay, kind = state.idle_since, rule.idle_after_s, AlarmType.IDLE
            elif rule.kind is RuleKind.PARKED_TOO_LONG and state.parked_since is not None:
                window, delay = state.parked_since, rule.parked_after_s
                kind = AlarmType.PARKED_TOO_LONG
            else:
                continue
            due = window + _seconds(delay)
            if (due >= now if strict else due > now) or state.raised_windows.get(
                rule.rule_id
            ) == window:
                continue
            state.raised_windows[rule.rule_id] = window
            alarms.append(
                _alarm(
                    state,
                    account_id,
                    kind,
                    source_id=rule.rule_id,
                    window=window,
                    time=due,
                    position=last,
                    rule_id=rule.rule_id,
                    details=_details(after_s=delay),
                )
            )
        return alarms
