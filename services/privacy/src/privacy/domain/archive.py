"""The export archive (Art. 15/20): a ZIP of parts written one after another, each counted and
hashed as it is written, closed by ``manifest.json`` that lists every part with its record
count, size and SHA-256.

Nothing here does I/O of its own: the writer takes an open binary file (a temporary file in
the service), and rows are built from the services' protobuf messages. A part is streamed into
the ZIP, so an archive of any size needs the memory of one page of records.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import IO, Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from trackstream.alarm.v1 import alarm_pb2, alarm_service_pb2
from trackstream.history.v1 import history_service_pb2
from trackstream.notification.v1 import notification_service_pb2

#: the archive's format, written in the manifest
FORMAT = "trackstream-export/1"
MANIFEST = "manifest.json"

#: a path segment we write: ids and names from the services, nothing that climbs or hides
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class ArchiveError(Exception):
    """An archive we refuse to write (a bad part path, a part written twice)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One file of the archive: where, how many records, how big, its SHA-256 (hex)."""

    path: str
    records: int
    size_bytes: int
    sha256: str


def part_path(*segments: str) -> str:
    """A path inside the archive from segments that must each be a plain name."""
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in {".", ".."} or ".." in segment:
            raise ArchiveError(f"not a plain name for an archive path: {segment!r}")
    return "/".join(segments)


class PartWriter:
    """A part open for writing: counts the bytes and the records, hashes what it writes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size_bytes = 0
        self.records = 0

    def write(self, data: bytes, *, records: int = 0) -> None:
        self._stream.write(data)
        self._hash.update(data)
        self.size_bytes += len(data)
        self.records += records

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class JsonArrayWriter:
    """A JSON array written one element at a time (each element counts as a record)."""

    def __init__(self, part: PartWriter) -> None:
        self._part = part
        self._first = True
        part.write(b"[")

    def add(self, value: Any) -> None:
        self._part.write((b"\n" if self._first else b",\n") + json_bytes(value), records=1)
        self._first = False

    def close(self) -> None:
        self._part.write(b"]\n" if self._first else b"\n]\n")


class ArchiveWriter:
    """Parts into a ZIP (deflated, ZIP64 for parts of any size), then the manifest."""

    def __init__(self, file: IO[bytes], *, created_at: datetime) -> None:
        self._zip = zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self._date_time = (
            max(created_at.year, 1980),
            created_at.month,
            created_at.day,
            created_at.hour,
            created_at.minute,
            created_at.second,
        )
        self.parts: list[Part] = []
        self._paths: set[str] = set()

    @contextmanager
    def part(self, path: str, *, compress: bool = True) -> Iterator[PartWriter]:
        """A part to write; ``compress=False`` stores it as is (pictures and videos are
        compressed already)."""
        if path in self._paths or path == MANIFEST:
            raise ArchiveError(f"{path} is already in the archive")
        self._paths.add(path)
        info = zipfile.ZipInfo(path, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with self._zip.open(info, "w", force_zip64=True) as stream:
            writer = PartWriter(stream)
            yield writer
        self.parts.append(Part(path, writer.records, writer.size_bytes, writer.sha256))

    def add_json(self, path: str, value: Any, *, records: int) -> Part:
        with self.part(path) as writer:
            writer.write(json_bytes(value, indent=2) + b"\n", records=records)
        return self.parts[-1]

    def discard(self) -> None:
        """Give up on the archive (its file is thrown away)."""
        self._zip.close()

    def close(self, *, export_id: str, account_id: str, generated_at: datetime) -> Part:
        """Write the manifest and finish the ZIP; returns the manifest's own part."""
        manifest = manifest_json(
            export_id=export_id,
            account_id=account_id,
            generated_at=generated_at,
            parts=self.parts,
        )
        data = json_bytes(manifest, indent=2) + b"\n"
        info = zipfile.ZipInfo(MANIFEST, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, data)
        self._zip.close()
        return Part(MANIFEST, len(self.parts), len(data), hashlib.sha256(data).hexdigest())


def manifest_json(
    *, export_id: str, account_id: str, generated_at: datetime, parts: Sequence[Part]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "export_id": export_id,
        "account_id": account_id,
        "generated_at": generated_at.isoformat(),
        "parts": [asdict(p) for p in parts],
    }


def verify_archive(file: IO[bytes]) -> list[str]:
    """What is wrong with an archive against its manifest (empty: every part is there, with
    its size and SHA-256, and nothing unlisted)."""
    problems: list[str] = []
    with zipfile.ZipFile(file) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return [f"no {MANIFEST}"]
        manifest = json.loads(archive.read(MANIFEST))
        listed = {p["path"] for p in manifest["parts"]}
        problems += [f"{n}: not in the manifest" for n in sorted(names - listed - {MANIFEST})]
        for part in manifest["parts"]:
            if part["path"] not in names:
                problems.append(f"{part['path']}: missing")
                continue
            digest, size = hashlib.sha256(), 0
            with archive.open(part["path"]) as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
            if size != part["size_bytes"]:
                problems.append(f"{part['path']}: {size} bytes, manifest says {part['size_bytes']}")
            if digest.hexdigest() != part["sha256"]:
                problems.append(f"{part['path']}: SHA-256 differs from the manifest")
    return problems


# --- records ------------------------------------------------------------------------------


def json_bytes(value: Any, *, indent: int | None = None) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=True).encode()


def message_json(message: Message) -> dict[str, Any]:
    """A protobuf message as JSON (proto field names, enums by name, RFC 3339 times)."""
    return MessageToDict(message, preserving_proto_field_name=True)


def subscription_json(subscription: notification_service_pb2.Subscription) -> dict[str, Any]:
    """A subscription without its secret: the webhook signing key is the platform's key to
    prove a call is ours, not data about the subject, and never leaves the service."""
    cleaned = notification_service_pb2.Subscription()
    cleaned.CopyFrom(subscription)
    cleaned.ClearField("webhook_secret")
    return message_json(cleaned)


def csv_line(values: Sequence[Any]) -> bytes:
    return csv_lines([values])


def csv_lines(rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV rows (RFC 4180 quoting, ``\n`` line ends; ``None`` as an empty field)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(["" if v is None else v for v in values] for values in rows)
    return out.getvalue().encode()


def _time(message: Message, name: str) -> str:
    if not message.HasField(name):
        return ""
    return str(getattr(message, name).ToDatetime().isoformat()) + "Z"


POSITION_COLUMNS = (
    "fix_time",
    "latitude",
    "longitude",
    "altitude_m",
    "speed_kmh",
    "course_deg",
    "valid",
    "satellites",
    "received_time",
    "message_serial",
    "ignition",
    "odometer_m",
    "address",
    "archived",
    "flagged",
)


def position_row(point: history_service_pb2.TrackPoint) -> list[Any]:
    fix = point.fix
    return [
        _time(fix, "fix_time"),
        fix.latitude,
        fix.longitude,
        fix.altitude_m if fix.HasField("altitude_m") else None,
        fix.speed_kmh,
        fix.course_deg,
        fix.valid,
        fix.satellites if fix.HasField("satellites") else None,
        _time(point, "received_time"),
        point.message_serial,
        point.ignition if point.HasField("ignition") else None,
        point.odometer_m if point.HasField("odometer_m") else None,
        point.address,
        point.archived,
        point.flagged,
    ]


ALARM_COLUMNS = (
    "alarm_id",
    "device_id",
    "alarm_time",
    "type",
    "severity",
    "origin",
    "latitude",
    "longitude",
    "rule_id",
    "geofence_id",
    "protocol_alarm_type",
    "acknowledged_time",
    "acknowledged_by",
    "resolved_time",
    "resolved_by",
    "note",
    "details",
)


def alarm_row(record: alarm_service_pb2.AlarmRecord) -> list[Any]:
    alarm = record.alarm
    has_fix = alarm.HasField("fix")
    return [
        alarm.alarm_id,
        alarm.device_id,
        _time(alarm, "alarm_time"),
        _enum_name(alarm_pb2.AlarmType.Name, alarm.type),
        _enum_name(alarm_pb2.Severity.Name, alarm.severity),
        _enum_name(alarm_pb2.AlarmOrigin.Name, alarm.origin),
        alarm.fix.latitude if has_fix else None,
        alarm.fix.longitude if has_fix else None,
        alarm.rule_id,
        alarm.geofence_id,
        alarm.protocol_alarm_type,
        _time(record, "acknowledged_time"),
        record.acknowledged_by,
        _time(record, "resolved_time"),
        record.resolved_by,
        record.note,
        json.dumps(dict(sorted(alarm.details.items())), ensure_ascii=False)
        if alarm.details
        else "",
    ]


def _enum_name(name_of: Callable[[Any], str], number: int) -> str:
    """The value's name (its number when this build does not know it)."""
    try:
        return name_of(number)
    except ValueError:
        return str(number)


def media_file_name(media_id: str, object_key: str) -> str:
    """The archive file name of a media object: its id with the extension of its stored key
    (the media service names keys by content type), ``bin`` when the key has none."""
    extension = object_key.rsplit("/", 1)[-1].rpartition(".")[2].lower()
    if not extension or extension == object_key.rsplit("/", 1)[-1].lower():
        extension = "bin"
    if not re.fullmatch(r"[a-z0-9]{1,10}", extension):
        extension = "bin"
    return f"{media_id}.{extension}"
