"""Reports become protobuf events. Pure: builds messages, publishes nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from ingest.domain.reports import AlarmReport, MediaReport, PositionReport, StatusReport
from trackstream.tracking.v1 import alarm_pb2, device_pb2, fix_pb2, media_pb2, position_pb2
from trackstream_events.timestamps import set_timestamp, to_timestamp
from trackstream_protocols.model import Fix

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: namespace of position event ids: the same position retransmitted gets the same ce_id
_ID_KEY = b"trackstream.tracking.v1.PositionReported"
_ID_HASHER = hashlib.blake2b(digest_size=16, key=_ID_KEY)
#: a hex digit with its top two bits set to the RFC 9562 variant (10)
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}

_FIX_ATTRIBUTES = {"ignition", "odometer", "batteryLevel", "power", "rssi", "sat"}
#: decoded values that identify a device or its SIM: never published
_IDENTIFYING = {"iccid", "imei", "imsi", "phone", "driverUniqueId"}


def position_event_id(device_id: str, fix_time: datetime, serial: int) -> str:
    """Deterministic id of a position: (device, fix time, message serial) is its identity,
    so consumers deduplicate a retransmission by ``ce_id`` (or by those three fields).

    A name-based UUID (RFC 9562 version 8) from a BLAKE2b digest of the three values: the same
    idea as version 5, at a fraction of ``uuid.uuid5``'s cost on the per-position path."""
    micros = (fix_time - _EPOCH) // _MICROSECOND
    hasher = _ID_HASHER.copy()  # the keyed state, so the key block is not hashed every time
    hasher.update(f"{device_id}|{micros}|{serial}".encode())
    h = hasher.hexdigest()
    # version 8 in the 13th hex digit, the RFC variant (10xx) in the top bits of the 17th
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def fix_message(fix: Fix) -> fix_pb2.Fix:
    message = fix_pb2.Fix()
    fill_fix(message, fix)
    return message


def fill_fix(message: fix_pb2.Fix, fix: Fix) -> None:
    """Write ``fix`` into ``message`` (a Fix field of its parent, set in place: building a Fix
    and its Timestamp as messages and copying them in costs about three times as much)."""
    message.SetInParent()
    set_timestamp(message.fix_time, fix.fix_time)
    message.latitude = fix.latitude
    message.longitude = fix.longitude
    message.speed_kmh = fix.speed_kmh
    message.course_deg = fix.course_deg
    message.valid = fix.valid
    if fix.altitude_m is not None:
        message.altitude_m = fix.altitude_m
    if fix.satellites is not None:
        message.satellites = fix.satellites


def origin(protocol: int, serial: int, session_id: str, checksum_ok: bool) -> fix_pb2.Origin:
    return fix_pb2.Origin(
        protocol=protocol,  # type: ignore[arg-type]
        message_serial=serial,
        checksum_mismatch=not checksum_ok,
        session_id=session_id,
    )


def _text_attributes(attributes: dict[str, object], skip: set[str]) -> dict[str, str]:
    out = {}
    for key, value in attributes.items():
        if key in skip or key in _IDENTIFYING or value is None:
            continue
        if isinstance(value, dict | list | tuple | bytes | set):
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def position_reported(
    report: PositionReport,
    *,
    device_id: str,
    received: datetime,
    origin_: fix_pb2.Origin,
) -> position_pb2.PositionReported:
    attrs = report.fix.attributes
    event = position_pb2.PositionReported(
        device_id=device_id,
        archived=report.archived,
        attributes=_text_attributes(attrs, _FIX_ATTRIBUTES),
    )
    fill_fix(event.fix, report.fix)
    set_timestamp(event.received_time, received)
    event.origin.CopyFrom(origin_)
    _common_status(event, attrs)
    if isinstance(attrs.get("odometer"), int | float):
        event.odometer_m = float(attrs["odometer"])  # type: ignore[arg-type]
    return event


def _common_status(
    event: position_pb2.PositionReported | device_pb2.DeviceStatusReported,
    attrs: dict[str, object],
) -> None:
    if isinstance(attrs.get("ignition"), bool):
        event.ignition = bool(attrs["ignition"])
    battery = attrs.get("batteryLevel")
    if isinstance(battery, int | float) and 0 <= battery <= 100:
        event.battery_percent = int(battery)
    power = attrs.get("power")
    if isinstance(power, int | float):
        event.external_power_v = float(power)
    rssi = attrs.get("rssi")
    if isinstance(rssi, int):
        event.rssi = rssi


def status_reported(
    report: StatusReport, *, device_id: str, received: datetime, origin_: fix_pb2.Origin
) -> device_pb2.DeviceStatusReported:
    attrs = report.attributes
    event = device_pb2.DeviceStatusReported(
        device_id=device_id,
        status_time=to_timestamp(report.time or received),
        origin=origin_,
        attributes=_text_attributes(attrs, _FIX_ATTRIBUTES | {"charge", "blocked"}),
    )
    _common_status(event, attrs)
    if isinstance(attrs.get("charge"), bool):
        event.charging = bool(attrs["charge"])
    if isinstance(attrs.get("blocked"), bool):
        event.blocked = bool(attrs["blocked"])
    return event


def alarms_reported(
    report: AlarmReport, *, device_id: str, received: datetime, origin_: fix_pb2.Origin
) -> list[alarm_pb2.DeviceAlarmReported]:
    """One event per alarm type (a frame can raise several at once)."""
    events = []
    for alarm_type in report.alarm_types:
        event = alarm_pb2.DeviceAlarmReported(
            device_id=device_id,
            alarm_type=alarm_type,
            protocol_code=report.code,
            alarm_time=to_timestamp(report.time or received),
            received_time=to_timestamp(received),
            origin=origin_,
            attributes=_text_attributes(report.attributes, set()),
        )
        if report.fix is not None:
            fill_fix(event.fix, report.fix)
        events.append(event)
    return events


def media_uploaded(
    report: MediaReport,
    *,
    device_id: str,
    bucket: str,
    object_key: str,
    sha256: str,
    received: datetime,
) -> media_pb2.MediaUploaded:
    kinds = {"image": 1, "audio": 2, "video": 3}
    event = media_pb2.MediaUploaded(
        device_id=device_id,
        media_id=report.media_id,
        media_type=kinds.get(report.media_type, 0),  # type: ignore[arg-type]
        content_type=report.content_type,
        bucket=bucket,
        object_key=object_key,
        size_bytes=len(report.data),
        sha256=sha256,
        event_code=report.event_code,
        channel=report.channel,
        received_time=to_timestamp(received),
    )
    if report.fix is not None:
        fill_fix(event.fix, report.fix)
    return event


def media_object_key(device_id: str, report: MediaReport, received: datetime, sha256: str) -> str:
    """``{device_id}/{yyyy}/{mm}/{dd}/{media_id}-{sha8}.{ext}``: one prefix lists a device's
    media (what erasure needs), and the same upload always lands on the same key."""
    day = received.astimezone(UTC)
    return f"{device_id}/{day:%Y/%m/%d}/{report.media_id}-{sha256[:8]}.{report.extension}"
