"""A track as GPX 1.1, GeoJSON (RFC 7946) or CSV, produced as a stream of text chunks.

Each ``*_chunks`` function reads the points once, in the order given (pass them sorted by
``fix_time``, as the store returns them; nothing is re-sorted here, so a year of points is
never held in memory), and yields ``str`` chunks of about :data:`CHUNK_CHARS` characters
to be written or sent as they come; :func:`to_string` joins them when a whole document is
wanted. Only usable points (valid and not flagged) are written unless ``usable_only=False``;
GPX and GeoJSON also skip points whose coordinates cannot be drawn (not finite or out of
range), since those formats cannot carry them.

Formats, all independent of the locale (``.`` decimal separator, no digit grouping):

GPX 1.1
    one ``trk`` named after the device, a new ``trkseg`` after every gap longer than
    ``max_gap`` (30 min); each ``trkpt`` has ``lat``/``lon`` (7 decimals, about 1 cm;
    longitude 180 written as -180, as the schema requires), ``ele`` when the altitude is
    known, ``time`` in UTC (``2024-03-05T07:30:00Z``), the address in ``desc``, ``sat``, and
    speed (m/s) and course in a Garmin ``TrackPointExtension`` v2, which Garmin tools,
    GPSBabel and most viewers read. Text is escaped, and characters XML 1.0 cannot carry
    (control characters) are dropped.
GeoJSON
    a ``FeatureCollection`` whose first feature is a ``LineString`` of ``[longitude,
    latitude]`` positions (RFC 7946 order), with ``device_id``, ``start_time``,
    ``end_time`` and ``point_count`` as properties (its geometry is ``null`` with fewer than
    two points, as a line needs two); with ``with_points=True`` it is followed by one
    ``Point`` feature per point carrying the point's time, speed, course, altitude,
    ignition, odometer and address (the points are then read twice, so pass a sequence or
    another re-iterable, not an iterator).
CSV
    RFC 4180 (comma, CRLF, quotes doubled), a header row, times in ISO 8601 UTC, empty cells
    for unknown values, ``true``/``false`` for booleans. An address beginning with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so a spreadsheet
    does not run it as a formula (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from history.domain.model import TrackPoint
from history.domain.track import is_usable

CHUNK_CHARS = 64 * 1024
DEFAULT_MAX_GAP = timedelta(minutes=30)

GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"
TRACKPOINT_EXTENSION_NAMESPACE = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"

CSV_COLUMNS = (
    "device_id",
    "fix_time",
    "latitude",
    "longitude",
    "altitude_m",
    "speed_kmh",
    "course_deg",
    "satellites",
    "ignition",
    "odometer_m",
    "address",
    "valid",
    "flagged",
)

_XML_UNREPRESENTABLE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def to_string(chunks: Iterable[str]) -> str:
    """A whole document from its chunks."""
    return "".join(chunks)


def gpx_chunks(
    points: Iterable[TrackPoint],
    *,
    name: str | None = None,
    usable_only: bool = True,
    max_gap: timedelta = DEFAULT_MAX_GAP,
) -> Iterator[str]:
    """The points as a GPX 1.1 document; the track is named ``name``, else after the device
    of the first point."""
    return _in_chunks(_gpx_parts(points, name=name, usable_only=usable_only, max_gap=max_gap))


def geojson_chunks(
    points: Iterable[TrackPoint],
    *,
    device_id: str | None = None,
    with_points: bool = False,
    usable_only: bool = True,
) -> Iterator[str]:
    """The points as a GeoJSON FeatureCollection; ``device_id`` defaults to the first
    point's."""
    if with_points and iter(points) is points:
        raise TypeError("with_points reads the points twice: pass a sequence, not an iterator")
    return _in_chunks(
        _geojson_parts(
            points, device_id=device_id, with_points=with_points, usable_only=usable_only
        )
    )


def csv_chunks(points: Iterable[TrackPoint], *, usable_only: bool = True) -> Iterator[str]:
    """The points as CSV with a header row."""
    return _in_chunks(_csv_parts(points, usable_only=usable_only))


# --- GPX ---------------------------------------------------------------------------------


def _gpx_parts(
    points: Iterable[TrackPoint], *, name: str | None, usable_only: bool, max_gap: timedelta
) -> Iterator[str]:
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx version="1.1" creator="Trackstream" xmlns="{GPX_NAMESPACE}"'
        f' xmlns:gpxtpx="{TRACKPOINT_EXTENSION_NAMESPACE}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{GPX_NAMESPACE} http://www.topografix.com/GPX/1/1/gpx.xsd'
        f" {TRACKPOINT_EXTENSION_NAMESPACE}"
        ' http://www.garmin.com/xmlschemas/TrackPointExtensionv2.xsd">\n'
        "<trk>"
    )
    named = False
    if name is not None:
        yield f"<name>{_xml_text(name)}</name>"
        named = True
    previous: TrackPoint | None = None
    for point in _drawable(points, usable_only=usable_only):
        if not named:
            yield f"<name>{_xml_text(point.device_id)}</name>"
            named = True
        if previous is None:
            yield "\n<trkseg>\n"
        elif point.fix_time - previous.fix_time > max_gap:
            yield "</trkseg>\n<trkseg>\n"
        yield _gpx_trackpoint(point)
        previous = point
    if previous is not None:
        yield "</trkseg>"
    yield "</trk>\n</gpx>\n"


def _gpx_trackpoint(point: TrackPoint) -> str:
    longitude = -180.0 if point.longitude == 180.0 else point.longitude
    parts = [f'<trkpt lat="{_decimal(point.latitude, 7)}" lon="{_decimal(longitude, 7)}">']
    if point.altitude_m is not None and math.isfinite(point.altitude_m):
        parts.append(f"<ele>{_decimal(point.altitude_m, 2)}</ele>")
    parts.append(f"<time>{iso_utc(point.fix_time)}</time>")
    if point.address is not None:
        parts.append(f"<desc>{_xml_text(point.address)}</desc>")
    if point.satellites is not None and point.satellites >= 0:
        parts.append(f"<sat>{point.satellites}</sat>")
    extension = []
    if math.isfinite(point.speed_kmh) and point.speed_kmh >= 0:
        extension.append(f"<gpxtpx:speed>{_decimal(point.speed_kmh / 3.6, 3)}</gpxtpx:speed>")
    if math.isfinite(point.course_deg):
        course = _decimal(point.course_deg % 360.0, 1)
        extension.append(f"<gpxtpx:course>{'0' if course == '360' else course}</gpxtpx:course>")
    if extension:
        parts.append(
            "<extensions><gpxtpx:TrackPointExtension>"
            + "".join(extension)
            + "</gpxtpx:TrackPointExtension></extensions>"
        )
    parts.append("</trkpt>\n")
    return "".join(parts)


def _xml_text(text: str) -> str:
    return escape(_XML_UNREPRESENTABLE.sub("", text), {"\r": "&#13;"})


# --- GeoJSON -----------------------------------------------------------------------------


def _geojson_parts(
    points: Iterable[TrackPoint], *, device_id: str | None, with_points: bool, usable_only: bool
) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
    first: TrackPoint | None = None
    last: TrackPoint | None = None
    count = 0
    for point in _drawable(points, usable_only=usable_only):
        count += 1
        if first is None:
            first = point
        elif count == 2:
            yield '{"type":"LineString","coordinates":['
            yield _position(first)
            yield ","
            yield _position(point)
        else:
            yield ","
            yield _position(point)
        last = point
    if count >= 2:
        yield "]}"
    else:
        yield "null"
    if device_id is None and first is not None:
        device_id = first.device_id
    properties = {
        "device_id": device_id,
        "start_time": iso_utc(first.fix_time) if first is not None else None,
        "end_time": iso_utc(last.fix_time) if last is not None else None,
        "point_count": count,
    }
    yield ',"properties":' + _json(properties) + "}"
    if with_points:
        for point in _drawable(points, usable_only=usable_only):
            yield ",\n" + _json(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": _coordinates(point)},
                    "properties": _point_properties(point),
                }
            )
    yield "]}\n"


def _coordinates(point: TrackPoint) -> list[float]:
    return [round(point.longitude, 7), round(point.latitude, 7)]


def _position(point: TrackPoint) -> str:
    return _json(_coordinates(point))


def _point_properties(point: TrackPoint) -> dict[str, Any]:
    return {
        "device_id": point.device_id,
        "time": iso_utc(point.fix_time),
        "speed_kmh": _finite_or_none(point.speed_kmh),
        "course_deg": _finite_or_none(point.course_deg),
        "altitude_m": _finite_or_none(point.altitude_m),
        "satellites": point.satellites,
        "ignition": point.ignition,
        "odometer_m": _finite_or_none(point.odometer_m),
        "address": point.address,
        "valid": point.valid,
        "flagged": point.flagged,
    }


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# --- CSV ---------------------------------------------------------------------------------


class _Lines:
    """A write() target that keeps what csv.writer writes."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def drain(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def _csv_parts(points: Iterable[TrackPoint], *, usable_only: bool) -> Iterator[str]:
    lines = _Lines()
    writer = csv.writer(lines, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield lines.drain()
    for point in points:
        if usable_only and not is_usable(point):
            continue
        writer.writerow(
            (
                point.device_id,
                iso_utc(point.fix_time),
                _cell(point.latitude, 7),
                _cell(point.longitude, 7),
                _cell(point.altitude_m, 2),
                _cell(point.speed_kmh, 2),
                _cell(point.course_deg, 1),
                "" if point.satellites is None else str(point.satellites),
                _boolean(point.ignition),
                _cell(point.odometer_m, 1),
                _defused(point.address),
                _boolean(point.valid),
                point.flagged or "",
            )
        )
        yield lines.drain()


def _cell(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return _decimal(value, digits)


def _boolean(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _defused(text: str | None) -> str:
    if text is None:
        return ""
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


# --- shared ------------------------------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` (microseconds only when not zero); a naive datetime is
    taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def _decimal(value: float, digits: int) -> str:
    """Fixed-point with at most ``digits`` decimals, trailing zeros removed, never ``-0``."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _drawable(points: Iterable[TrackPoint], *, usable_only: bool) -> Iterator[TrackPoint]:
    for point in points:
        if usable_only and not is_usable(point):
            continue
        if not (
            math.isfinite(point.latitude)
            and math.isfinite(point.longitude)
            and -90.0 <= point.latitude <= 90.0
            and -180.0 <= point.longitude <= 180.0
        ):
            continue
        yield point


def _in_chunks(parts: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Join small parts into chunks of at least ``size`` characters (the last may be
    shorter)."""
    buffer: list[str] = []
    buffered = 0
    for part in parts:
        buffer.append(part)
        buffered += len(part)
        if buffered >= size:
            yield "".join(buffer)
            buffer.clear()
            buffered = 0
    if buffer:
        yield "".join(buffer)
