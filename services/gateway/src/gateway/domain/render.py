"""Protobuf records as the JSON the REST API and the WebSocket send (no I/O)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

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
