"""Protobuf records as the JSON the REST API and the WebSocket send (no I/O)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from trackstream.alarm.v1 import alarm_pb2 as platform_alarm_pb2
from trackstream.alarm.v1 import alarm_service_pb2 as alarm_service_pb2
from trackstream.alarm.v1 import geofence_pb2
from trackstream.geocoding.v1 import place_pb2
from trackstream.history.v1 import history_service_pb2 as hpb
from trackstream.tracking.v1 import alarm_pb2, device_pb2, fix_pb2, position_pb2

JSON = dict[str, Any]


def iso(stamp: Timestamp) -> str:
    """RFC 3339 in UTC with microseconds when there are any (the hot path of track pages)."""
    seconds, nanos = stamp.seconds, stamp.nanos
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{nanos // 1000:06d}Z" if nanos // 1000 else f"{base}Z"


def iso_or_none(stamp: Timestamp, present: bool) -> str | None:
    return iso(stamp) if present else None


def when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fix_json(fix: fix_pb2.Fix) -> JSON:
    out: JSON = {
        "time": iso(fix.fix_time),
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "speed_kmh": fix.speed_kmh,
        "course_deg": fix.course_deg,
        "valid": fix.valid,
    }
    if fix.HasField("altitude_m"):
        out["altitude_m"] = fix.altitude_m
    if fix.HasField("satellites"):
        out["satellites"] = fix.satellites
    return out


def track_point_json(point: hpb.TrackPoint) -> JSON:
    out = fix_json(point.fix)
    out["received_time"] = iso_or_none(point.received_time, point.HasField("received_time"))
    out["archived"] = point.archived
    if point.HasField("ignition"):
        out["ignition"] = point.ignition
    if point.HasField("odometer_m"):
        out["odometer_m"] = point.odometer_m
    if point.address:
        out["address"] = point.address
    if point.flagged:
        out["flagged"] = point.flagged
    return out


def place_json(place: hpb.Place) -> JSON:
    return {"latitude": place.latitude, "longitude": place.longitude, "address": place.address}


def trip_json(trip: hpb.Trip) -> JSON:
    return {
        "start_time": iso(trip.start_time),
        "end_time": iso(trip.end_time),
        "start": place_json(trip.start),
        "end": place_json(trip.end),
        "distance_m": trip.distance_m,
        "duration_s": trip.duration_s,
        "max_speed_kmh": trip.max_speed_kmh,
        "average_speed_kmh": trip.average_speed_kmh,
    }


def stop_json(stop: hpb.Stop) -> JSON:
    out: JSON = {
        "start_time": iso(stop.start_time),
        "end_time": iso(stop.end_time),
        "place": place_json(stop.place),
        "duration_s": stop.duration_s,
    }
    if stop.HasField("ignition_on"):
        out["ignition_on"] = stop.ignition_on
    if stop.HasField("idle_s"):
        out["idle_s"] = stop.idle_s
    return out


def summary_json(summary: hpb.DailySummary) -> JSON:
    return {
        "device_id": summary.device_id,
        "day": summary.day,
        "distance_m": summary.distance_m,
        "moving_s": summary.moving_s,
        "engine_s": summary.engine_s if summary.HasField("engine_s") else None,
        "idle_s": summary.idle_s if summary.HasField("idle_s") else None,
        "max_speed_kmh": summary.max_speed_kmh,
        "trip_count": summary.trip_count,
        "point_count": summary.point_count,
    }


def overspeed_json(item: hpb.Overspeed) -> JSON:
    return {
        "start_time": iso(item.start_time),
        "end_time": iso(item.end_time),
        "max_speed_kmh": item.max_speed_kmh,
        "distance_m": item.distance_m,
        "start": place_json(item.start),
        "end": place_json(item.end),
    }


def geocoded_place_json(place: place_pb2.Place) -> JSON:
    """A place from geocoding; ``source`` as ``offline``, ``nominatim`` or ``photon``."""
    source = place_pb2.AddressSource.Name(place.source).removeprefix("ADDRESS_SOURCE_").lower()
    return {
        "name": place.name,
        "address_line": place.address_line,
        "street": place.street or None,
        "postcode": place.postcode or None,
        "subregion": place.subregion or None,
        "region": place.region or None,
        "country": place.country,
        "country_code": place.country_code,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "distance_m": place.distance_m,
        "source": source,
    }


# ---------------------------------------------------------------------- live messages


def live_position(event: position_pb2.PositionReported) -> JSON:
    out: JSON = {"type": "position", "device_id": event.device_id, **fix_json(event.fix)}
    if event.HasField("ignition"):
        out["ignition"] = event.ignition
    out["archived"] = event.archived
    return out


def live_status(event: device_pb2.DeviceStatusReported) -> JSON:
    out: JSON = {"type": "status", "device_id": event.device_id, "time": iso(event.status_time)}
    for name in ("battery_percent", "external_power_v", "rssi", "ignition", "charging", "blocked"):
        if event.HasField(name):
            out[name] = getattr(event, name)
    return out


def live_alarm(event: alarm_pb2.DeviceAlarmReported) -> JSON:
    out: JSON = {
        "type": "alarm",
        "origin": "device",
        "device_id": event.device_id,
        "alarm_type": event.alarm_type,
        "time": iso(event.alarm_time),
    }
    if event.HasField("fix"):
        out["fix"] = fix_json(event.fix)
    return out


def live_session(event: device_pb2.DeviceConnected | device_pb2.DeviceDisconnected) -> JSON:
    if isinstance(event, device_pb2.DeviceConnected):
        return {
            "type": "session",
            "device_id": event.device_id,
            "state": "connected",
            "time": iso(event.connected_time),
        }
    return {
        "type": "session",
        "device_id": event.device_id,
        "state": "disconnected",
        "time": iso(event.disconnected_time),
        "reason": device_pb2.DisconnectReason.Name(event.reason)
        .removeprefix("DISCONNECT_REASON_")
        .lower(),
    }


# ---------------------------------------------------------------------- alarm service

#: ids the REST API shows for an account's geofences and rules: "<account id>.<id>", so a
#: request names the account, which the gateway authorises before asking alarm
OWNED_ID_SEPARATOR = "."


def owned_id(account_id: str, item_id: str) -> str:
    return f"{account_id}{OWNED_ID_SEPARATOR}{item_id}"


def _enum_name(value: int, enum: Any, prefix: str) -> str:
    try:
        name: str = enum.Name(value)
    except ValueError:
        return "unspecified"
    return name.removeprefix(prefix).lower()


def alarm_type_name(value: int) -> str:
    return _enum_name(value, platform_alarm_pb2.AlarmType, "ALARM_TYPE_")


def rule_kind_name(value: int) -> str:
    return _enum_name(value, geofence_pb2.RuleKind, "RULE_KIND_")


def _lat_lng(point: geofence_pb2.LatLng) -> JSON:
    return {"latitude": point.latitude, "longitude": point.longitude}


def geofence_json(fence: geofence_pb2.Geofence) -> JSON:
    shape = fence.WhichOneof("shape")
    return {
        "geofence_id": owned_id(fence.account_id, fence.geofence_id),
        "account_id": fence.account_id,
        "name": fence.name,
        "circle": (
            {"center": _lat_lng(fence.circle.center), "radius_m": fence.circle.radius_m}
            if shape == "circle"
            else None
        ),
        "polygon": (
            {"vertices": [_lat_lng(v) for v in fence.polygon.vertices]}
            if shape == "polygon"
            else None
        ),
        "device_ids": list(fence.device_ids),
        "alarm_on_enter": fence.alarm_on_enter,
        "alarm_on_exit": fence.alarm_on_exit,
        "dwell_alarm_s": fence.dwell_alarm_s,
        "edge_margin_m": fence.edge_margin_m,
        "confirm_s": fence.confirm_s,
        "updated_time": iso_or_none(fence.updated_time, fence.HasField("updated_time")),
    }


def rule_json(rule: geofence_pb2.Rule) -> JSON:
    return {
        "rule_id": owned_id(rule.account_id, rule.rule_id),
        "account_id": rule.account_id,
        "name": rule.name,
        "kind": rule_kind_name(rule.kind),
        "device_ids": list(rule.device_ids),
        "enabled": rule.enabled,
        "speed_limit_kmh": rule.speed_limit_kmh,
        "hysteresis": rule.hysteresis,
        "min_duration_s": rule.min_duration_s,
        "offline_after_s": rule.offline_after_s,
        "idle_after_s": rule.idle_after_s,
        "parked_after_s": rule.parked_after_s,
        "battery_below_percent": rule.battery_below_percent,
        "updated_time": iso_or_none(rule.updated_time, rule.HasField("updated_time")),
    }


def _raised_json(alarm: platform_alarm_pb2.AlarmRaised) -> JSON:
    owner = alarm.owner_account_id
    return {
        "alarm_id": alarm.alarm_id,
        "device_id": alarm.device_id,
        "alarm_type": alarm_type_name(alarm.type),
        "origin": _enum_name(alarm.origin, platform_alarm_pb2.AlarmOrigin, "ALARM_ORIGIN_"),
        "severity": _enum_name(alarm.severity, platform_alarm_pb2.Severity, "SEVERITY_"),
        "time": iso(alarm.alarm_time),
        "fix": fix_json(alarm.fix) if alarm.HasField("fix") else None,
        "rule_id": owned_id(owner, alarm.rule_id) if alarm.rule_id and owner else None,
        "geofence_id": (
            owned_id(owner, alarm.geofence_id) if alarm.geofence_id and owner else None
        ),
        "protocol_code": (
            alarm.protocol_code if alarm.origin == platform_alarm_pb2.ALARM_ORIGIN_DEVICE else None
        ),
        "protocol_alarm_type": alarm.protocol_alarm_type or None,
        "details": dict(alarm.details),
    }


def alarm_record_json(record: alarm_service_pb2.AlarmRecord) -> JSON:
    acknowledged = record.HasField("acknowledged_time")
    resolved = record.HasField("resolved_time")
    return {
        **_raised_json(record.alarm),
        "state": "resolved" if resolved else "acknowledged" if acknowledged else "open",
        "acknowledged_time": iso_or_none(record.acknowledged_time, acknowledged),
        "acknowledged_by": record.acknowledged_by or None,
        "resolved_time": iso_or_none(record.resolved_time, resolved),
        "resolved_by": record.resolved_by or None,
        "note": record.note,
    }


def live_platform_alarm(event: platform_alarm_pb2.AlarmRaised) -> JSON:
    """An alarm of the alarm service (alarm.alarms.v1): the same ``alarm`` message as a
    device-reported one, ``origin`` telling them apart, with the id to acknowledge it by."""
    out = _raised_json(event)
    return {"type": "alarm", **out}
