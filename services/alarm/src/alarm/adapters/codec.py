"""Protobuf messages to domain values and back (the only place that knows both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from alarm.domain.catalogue import AlarmType, Severity
from alarm.domain.debounce import FenceEdge, ThresholdState
from alarm.domain.engine import DeviceState
from alarm.domain.geofences import Circle, Geofence, Polygon
from alarm.domain.model import Alarm, AlarmOrigin, DeviceAlarm, Position
from alarm.domain.rules import Rule, RuleKind
from trackstream.alarm.v1 import alarm_pb2, device_state_pb2, geofence_pb2
from trackstream.tracking.v1 import alarm_pb2 as device_alarm_pb2
from trackstream.tracking.v1 import fix_pb2, position_pb2
from trackstream_events.fields import present
from trackstream_events.timestamps import set_timestamp, to_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: fromtimestamp's range on every platform (year 3000); beyond it (and before 1970), arithmetic
_MAX_SECONDS = 32_503_680_000


def _time(ts: Timestamp) -> datetime:
    """An aware UTC datetime (microseconds), cheaper than ``ToDatetime`` on the hot path."""
    return _utc(ts.seconds, ts.nanos)


def _utc(seconds: int, nanos: int) -> datetime:
    if 0 <= seconds < _MAX_SECONDS:  # exact: whole seconds, then the microseconds set
        when = datetime.fromtimestamp(seconds, UTC)
        return when.replace(microsecond=nanos // 1000) if nanos else when
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _time_or_none(message: object, name: str) -> datetime | None:
    if not message.HasField(name):  # type: ignore[attr-defined]
        return None
    return _time(getattr(message, name))


def position_of(event: position_pb2.PositionReported) -> Position:
    """Once per position consumed: each field read once, positionally."""
    fix = event.fix
    fix_time = fix.fix_time
    return Position(
        event.device_id,
        _utc(fix_time.seconds, fix_time.nanos),
        fix.latitude,
        fix.longitude,
        fix.speed_kmh,
        fix.course_deg,
        fix.valid,
        event.archived,
        present(event, "ignition"),
        present(event, "battery_percent"),
    )


def _position_of_fix(device_id: str, fix: fix_pb2.Fix) -> Position:
    return Position(
        device_id=device_id,
        time=_time(fix.fix_time),
        latitude=fix.latitude,
        longitude=fix.longitude,
        speed_kmh=fix.speed_kmh,
        course_deg=fix.course_deg,
        valid=fix.valid,
    )


def device_alarm_of(event: device_alarm_pb2.DeviceAlarmReported) -> DeviceAlarm:
    has_fix = event.HasField("fix")
    when = event.alarm_time if event.HasField("alarm_time") else event.received_time
    return DeviceAlarm(
        device_id=event.device_id,
        time=_time(when),
        protocol_alarm_type=event.alarm_type,
        protocol_code=event.protocol_code,
        position=_position_of_fix(event.device_id, event.fix) if has_fix else None,
        attributes=dict(event.attributes),
    )


def alarm_message(alarm: Alarm) -> alarm_pb2.AlarmRaised:
    message = alarm_pb2.AlarmRaised(
        alarm_id=alarm.alarm_id,
        device_id=alarm.device_id,
        owner_account_id=alarm.account_id,
        type=int(alarm.type),  # type: ignore[arg-type]
        origin=int(alarm.origin),  # type: ignore[arg-type]
        protocol_code=alarm.protocol_code,
        protocol_alarm_type=alarm.protocol_alarm_type,
        severity=int(alarm.severity),  # type: ignore[arg-type]
        alarm_time=to_timestamp(alarm.time),
        rule_id=alarm.rule_id,
        geofence_id=alarm.geofence_id,
        details=alarm.details,
    )
    if alarm.position is not None:
        _set_fix(message.fix, alarm.position)
    return message


def alarm_of(message: alarm_pb2.AlarmRaised) -> Alarm:
    return Alarm(
        alarm_id=message.alarm_id,
        device_id=message.device_id,
        account_id=message.owner_account_id,
        type=AlarmType(message.type),
        severity=Severity(message.severity),
        origin=AlarmOrigin(message.origin),
        time=_time(message.alarm_time),
        position=_position_of_fix(message.device_id, message.fix)
        if message.HasField("fix")
        else None,
        rule_id=message.rule_id,
        geofence_id=message.geofence_id,
        protocol_code=message.protocol_code,
        protocol_alarm_type=message.protocol_alarm_type,
        details=dict(message.details),
    )


# ---------------------------------------------------------------------- geofences and rules


def geofence_of(message: geofence_pb2.Geofence) -> Geofence:
    """The domain fence (unvalidated: call ``validate_geofence``). No shape: a zero circle,
    which validation refuses."""
    shape: Circle | Polygon
    if message.HasField("polygon"):
        shape = Polygon(tuple((v.latitude, v.longitude) for v in message.polygon.vertices))
    else:
        c = message.circle
        shape = Circle(c.center.latitude, c.center.longitude, c.radius_m)
    return Geofence(
        geofence_id=message.geofence_id,
        account_id=message.account_id,
        shape=shape,
        name=message.name,
        device_ids=frozenset(message.device_ids),
        alarm_on_enter=message.alarm_on_enter,
        alarm_on_exit=message.alarm_on_exit,
        dwell_alarm_s=message.dwell_alarm_s,
        edge_margin_m=message.edge_margin_m,
        confirm_s=message.confirm_s,
    )


def rule_of(message: geofence_pb2.Rule) -> Rule:
    kind = RuleKind(message.kind) if message.kind in RuleKind._value2member_map_ else None
    return Rule(
        rule_id=message.rule_id,
        account_id=message.account_id,
        kind=kind or RuleKind.UNSPECIFIED,
        name=message.name,
        device_ids=frozenset(message.device_ids),
        enabled=message.enabled,
        speed_limit_kmh=message.speed_limit_kmh,
        hysteresis=message.hysteresis,
        min_duration_s=message.min_duration_s,
        offline_after_s=message.offline_after_s,
        idle_after_s=message.idle_after_s,
        parked_after_s=message.parked_after_s,
        battery_below_percent=message.battery_below_percent,
    )


# ---------------------------------------------------------------------- device state


def state_message(state: DeviceState) -> device_state_pb2.DeviceAlarmState:
    """Once per changed device per batch: every field set in place (no sub-message built and
    copied in), absent times left unset."""
    message = device_state_pb2.DeviceAlarmState(device_id=state.device_id, moving=state.moving)
    last = state.last
    if last is not None:
        _set_fix(message.last_fix, last)
    if state.ignition is not None:
        message.ignition = state.ignition
    for when, target in (
        (state.ignition_time, "ignition_time"),
        (state.stopped_since, "stopped_time"),
        (state.idle_since, "idle_time"),
        (state.parked_since, "parked_time"),
    ):
        if when is not None:
            set_timestamp(getattr(message, target), when)
    fences = state.fences
    for geofence_id in sorted(fences):
        edge = fences[geofence_id]
        fence = message.fences.add(
            geofence_id=geofence_id, inside=edge.inside, dwell_raised=edge.dwell_raised
        )
        if edge.since is not None:
            set_timestamp(fence.since_time, edge.since)
        if edge.pending_since is not None:
            set_timestamp(fence.pending_time, edge.pending_since)
    thresholds, windows = state.thresholds, state.raised_windows
    if thresholds or windows:
        for rule_id in sorted(thresholds.keys() | windows.keys()):
            rule = message.rules.add(rule_id=rule_id)
            threshold = thresholds.get(rule_id)
            if threshold is not None:
                rule.active = threshold.active
                if threshold.pending_since is not None:
                    set_timestamp(rule.pending_time, threshold.pending_since)
            window = windows.get(rule_id)
            if window is not None:
                set_timestamp(rule.raised_window_time, window)
    applied = message.applied
    for (topic, partition), offset in sorted(state.applied.items()):
        applied.add(topic=topic, partition=partition, offset=offset)
    return message


def _set_fix(target: fix_pb2.Fix, p: Position) -> None:
    set_timestamp(target.fix_time, p.time)
    target.latitude = p.latitude
    target.longitude = p.longitude
    target.speed_kmh = p.speed_kmh
    target.course_deg = p.course_deg
    target.valid = p.valid


def state_of(message: device_state_pb2.DeviceAlarmState) -> DeviceState:
    state = DeviceState(device_id=message.device_id, moving=message.moving)
    if message.HasField("last_fix"):
        state.last = _position_of_fix(message.device_id, message.last_fix)
    if message.HasField("ignition"):
        state.ignition = message.ignition
    state.ignition_time = _time_or_none(message, "ignition_time")
    state.stopped_since = _time_or_none(message, "stopped_time")
    state.idle_since = _time_or_none(message, "idle_time")
    state.parked_since = _time_or_none(message, "parked_time")
    for fence in message.fences:
        state.fences[fence.geofence_id] = FenceEdge(
            inside=fence.inside,
            since=_time_or_none(fence, "since_time"),
            pending_since=_time_or_none(fence, "pending_time"),
            dwell_raised=fence.dwell_raised,
        )
    for rule in message.rules:
        threshold = ThresholdState(rule.active, _time_or_none(rule, "pending_time"))
        if threshold != ThresholdState():
            state.thresholds[rule.rule_id] = threshold
        window = _time_or_none(rule, "raised_window_time")
        if window is not None:
            state.raised_windows[rule.rule_id] = window
    for applied in message.applied:
        state.applied[(applied.topic, applied.partition)] = applied.offset
    return state
