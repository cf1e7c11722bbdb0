"""OsmAnd / Traccar Client HTTP protocol (Traccar's ``osmand``, port 5055): pure, no I/O.

Phones running Traccar Client (or another app speaking Traccar's OsmAnd protocol) report
positions over HTTP. :func:`parse_request` turns one request into an :class:`OsmandReport`;
:func:`response_for` says what to answer; :class:`HttpRequestParser` cuts a TCP byte stream into
requests for an ingest server that does not want an HTTP framework. Everything raised for bad
input is a :class:`~trackstream_protocols.errors.ProtocolError` (an :class:`OsmandError`, which
also carries the HTTP status to answer with); no message ever contains the device identifier or
any other value the phone sent.

Two forms, chosen by the ``Content-Type`` (as Traccar does):

* **query form** (Traccar Client for Android up to v8 and for iOS, the OsmAnd app, curl): the
  parameters are in the query string of a GET or POST; when the query string is empty they are
  read from an ``application/x-www-form-urlencoded`` body (Traccar Client 9 uploads its push
  token this way). Parameters:

  ====================  ========================================================================
  ``id``, ``deviceid``   the device identifier (required)
  ``timestamp``          unix seconds, or milliseconds when >= 2^31 - 1 (Traccar's rule), or ISO
                         8601 (``2016-01-27T18:55:47Z``) or ``yyyy-MM-dd HH:mm:ss``; a time
                         without an offset is UTC (Traccar uses the server's zone for the last
                         form). Missing: the server's receive time (``time_from_device=False``)
  ``lat`` + ``lon``      degrees; or ``location=lat,lon``. Without them there is no fix
  ``speed``              **knots** by default, as in Traccar (``osmand.speed`` defaults to
                         ``kn``; Traccar Client for Android and iOS send m/s x 1.943844). The
                         OsmAnd app itself sends m/s: pass ``speed_unit="mps"`` for it
  ``bearing``/``heading``  degrees 0..360; negative means unknown (0)
  ``altitude``           metres
  ``accuracy``           metres -> ``accuracy`` attribute
  ``hdop``               -> ``hdop`` attribute
  ``batt``               percent -> ``batteryLevel`` (int 0..100; other values are ignored)
  ``charge``, ``motion``  ``true``/``false``/``1``/``0`` -> ``charge``, ``motion``
  ``valid``              ``true`` or ``1`` -> valid, anything else -> invalid (default valid)
  ``driverUniqueId``     -> ``driverUniqueId``
  ``alarm``              -> ``alarm`` (Traccar Client sends ``sos``); names outside Traccar's
                         alarm vocabulary are ignored
  ``sat``/``satellites``  -> ``Fix.satellites``
  ``cell``               ``mcc,mnc,lac,cid[,rssi]`` (repeatable) -> ``cell_towers``
  ``wifi``               ``mac,rssi`` with ``-`` or ``:`` in the MAC (repeatable)
  ``notificationToken``  -> ``notification_token`` (the app's push token, not an attribute)
  anything else          kept as an attribute: integer, float, ``true``/``false``, else text
  ====================  ========================================================================

* **JSON form** (Traccar Client 9+, built on flutter_background_geolocation), sent as
  ``application/json``::

      {"location": {"timestamp": "2025-06-15T13:45:12.862Z",
                    "coords": {"latitude": .., "longitude": .., "accuracy": .., "speed": ..,
                               "heading": .., "altitude": ..},
                    "is_moving": false, "odometer": 0, "event": "motionchange",
                    "battery": {"level": 0.79, "is_charging": false},
                    "activity": {"type": "still"}, "extras": {}, "uuid": "..."},
       "device_id": "48241179"}

  ``coords.speed`` is m/s and ``heading`` degrees (negative = unknown); ``battery.level`` is a
  fraction 0..1 (-1 unknown) -> ``batteryLevel`` percent; ``is_charging`` -> ``charge``;
  ``is_moving`` -> ``motion``; ``odometer`` (m), ``mock``, ``activity.type`` -> ``activity``,
  ``alarm`` and every scalar in ``extras`` become attributes. ``event`` (``motionchange``,
  ``heartbeat``...) becomes ``clientEvent``: Traccar stores it as ``event``, but our vocabulary
  keeps ``event`` for integer event codes. ``uuid`` becomes ``message_id`` (the app resends a
  location until it gets a 2xx, so it is the deduplication key). A batch (``location`` as an
  array) is refused: Traccar Client does not enable batching, and Traccar rejects it too.

Attributes use Traccar's vocabulary and types (``batteryLevel`` int, ``charge``/``motion`` bool,
``accuracy``/``odometer`` numbers, ``rssi``/``status`` integers); an extra parameter whose value
does not fit the type of its vocabulary name (``motion=maybe``) is left out and named in
``OsmandReport.ignored`` rather than failing the whole report, since the app would resend it
forever. Values of the parameters listed above that do not parse (``lat=abc``), coordinates out
of range, a missing identifier, oversized bodies and unsupported content types fail the request.

**Answers** (:func:`response_for`): 200 on success, with a queued command as the body if there is
one (Traccar's behaviour for the query form); 400 for a bad request; **404 for a device that is
not registered**, in both forms. Traccar answers 404 for unknown devices in the JSON form but 400
in the query form; one status that means "not registered" lets phone logs and our metrics tell a
configuration problem from a malformed request. HTTP-level problems get their own status (405,
413, 414, 415, 431, 501, 505). Traccar Client retries until it gets a 2xx, so only a stored
report should be answered 200.

Sources: traccar/traccar ``OsmAndProtocolDecoder`` and ``OsmAndProtocolDecoderTest``;
traccar/traccar-client (``lib/preferences.dart`` location template, ``lib/push_service.dart``),
traccar-client-android (``ProtocolFormatter``, ``Position``), traccar-client-ios; OsmAnd
``LiveMonitoringHelper``. No code was copied.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Literal, NoReturn
from urllib.parse import parse_qsl, urlsplit

from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.model import Fix
from trackstream_protocols.network import CellTower, WifiAccessPoint

__all__ = [
    "CONTINUE_RESPONSE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_PORT",
    "TRACCAR_ALARMS",
    "BadParameter",
    "BodyTooLarge",
    "HeaderTooLarge",
    "HttpError",
    "HttpRequest",
    "HttpRequestParser",
    "HttpVersionNotSupported",
    "MethodNotAllowed",
    "MissingIdentifier",
    "OsmandError",
    "OsmandReport",
    "OsmandResponse",
    "SpeedUnit",
    "TransferCodingNotImplemented",
    "UnsupportedContentType",
    "UriTooLong",
    "encode_response",
    "parse_request",
    "response_for",
]


#: Traccar's default port for the protocol
DEFAULT_PORT = 5055
#: request bodies above this are refused (a Traccar Client JSON location is about 600 bytes)
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: request line + headers above this are refused
DEFAULT_MAX_HEADER_BYTES = 8 * 1024
#: longest request target accepted by :func:`parse_request`
MAX_TARGET_LENGTH = 8 * 1024
#: most query/form parameters in one request
MAX_PARAMETERS = 200
#: longest device identifier (IMEIs have 15 digits, Traccar Client ids 8)
MAX_IDENTIFIER_LENGTH = 128
#: longest text attribute value and attribute name kept
MAX_TEXT_LENGTH = 256
MAX_NAME_LENGTH = 64
#: what a 100-continue request is sent before its body (see :meth:`HttpRequestParser.take_continue`)
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"

SpeedUnit = Literal["kn", "kmh", "mps", "mph"]
_KMH_PER_UNIT: dict[str, float] = {"kn": 1.852, "kmh": 1.0, "mps": 3.6, "mph": 1.609344}

#: Traccar's ``Position.ALARM_*`` names; ``alarm`` values outside it are ignored
TRACCAR_ALARMS = frozenset(
    {
        "general", "sos", "vibration", "movement", "lowspeed", "overspeed", "fallDown",
        "lowPower", "lowBattery", "fault", "powerOff", "powerOn", "door", "lock", "unlock",
        "geofence", "geofenceEnter", "geofenceExit", "gpsAntennaCut", "accident", "tow", "idle",
        "highRpm", "hardAcceleration", "hardBraking", "hardCornering", "laneChange",
        "fatigueDriving", "powerCut", "powerRestored", "jamming", "temperature", "parking",
        "bonnet", "footBrake", "fuelLeak", "tampering", "removing",
    }
)  # fmt: skip

# vocabulary names with a fixed value type (the rest of the platform relies on these types)
_BOOLEAN_KEYS = frozenset(
    {"ignition", "charge", "blocked", "armed", "archive", "door", "motion", "mock"}
)
_INTEGER_KEYS = frozenset({"rssi", "event", "status", "satellites", "geofence"})
_NUMBER_KEYS = frozenset({"odometer", "power", "battery", "accuracy", "temp1", "hdop"})

_INT_RE = re.compile(r"[+-]?[0-9]{1,18}")
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_UNIX_TIME_RE = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?")
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?:[-:][0-9A-Fa-f]{2}){5}")
_MAX_NUMBER_TEXT = 64
# Traccar's cut-over between unix seconds and milliseconds (``timestamp < Integer.MAX_VALUE``)
_SECONDS_LIMIT = 2**31 - 1


# ---------------------------------------------------------------------------------------------
# errors


class OsmandError(ProtocolError):
    """A request the server must refuse; ``http_status`` is the status to answer with.

    ``close_connection`` is True when the byte stream cannot be trusted any more (the request
    could not be framed), so the server answers and closes.
    """

    http_status: int = HTTPStatus.BAD_REQUEST
    close_connection: bool = False


class MissingIdentifier(OsmandError):
    """No device identifier in the request."""


class BadParameter(OsmandError):
    """A parameter or JSON field that does not parse or is out of range."""


class UnsupportedContentType(OsmandError):
    """A body in a content type this protocol does not use."""

    http_status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class MethodNotAllowed(OsmandError):
    """Anything but GET and POST."""

    http_status = HTTPStatus.METHOD_NOT_ALLOWED


class UriTooLong(OsmandError):
    """A request target longer than :data:`MAX_TARGET_LENGTH`."""

    http_status = HTTPStatus.REQUEST_URI_TOO_LONG


class BodyTooLarge(OsmandError, FrameTooLarge):
    """A body larger than the configured maximum."""

    http_status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    close_connection = True


class HttpError(OsmandError):
    """Bytes that are not a well-formed HTTP/1.x request."""

    close_connection = True


class HeaderTooLarge(HttpError, FrameTooLarge):
    """Request line and headers (or chunk trailers) larger than the configured maximum."""

    http_status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE


class HttpVersionNotSupported(HttpError):
    """An HTTP version other than 1.0 and 1.1."""

    http_status = HTTPStatus.HTTP_VERSION_NOT_SUPPORTED


class TransferCodingNotImplemented(HttpError):
    """A transfer coding other than ``chunked``."""

    http_status = HTTPStatus.NOT_IMPLEMENTED


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True, slots=True, kw_only=True)
class OsmandReport:
    """One decoded request.

    ``fix`` is None when the request carried no coordinates (a push-token upload, a report with
    only cell towers or Wi-Fi access points); Traccar then reuses the device's last position,
    which is the caller's business. ``time`` is ``fix.fix_time`` when there is a fix;
    ``time_from_device`` is False when the request had no timestamp and the server's clock was
    used. ``attributes`` (the same values as ``fix.attributes``) use Traccar's vocabulary.
    ``ignored`` names the parameters that were left out (see the module docs).
    """

    identifier: str
    form: Literal["query", "json"]
    fix: Fix | None
    time: datetime
    time_from_device: bool
    attributes: dict[str, object] = field(default_factory=dict)
    cell_towers: tuple[CellTower, ...] = ()
    access_points: tuple[WifiAccessPoint, ...] = ()
    #: the JSON form's ``location.uuid``: the same location resent has the same id
    message_id: str | None = None
    #: the app's push token (``notificationToken``), to send it commands
    notification_token: str | None = None
    ignored: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# value parsing (messages name the field, never the value)


def _number(text: str, what: str) -> float:
    if len(text) > _MAX_NUMBER_TEXT or not _NUMBER_RE.fullmatch(text):
        raise BadParameter(f"{what} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise BadParameter(f"{what} is not a finite number")
    return value


def _integer(text: str, what: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise BadParameter(f"{what} is not an integer")
    return int(text)


def _flag(text: str) -> bool | None:
    """``true``/``false``/``1``/``0`` (any case) -> bool, anything else None."""
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


def _latitude(value: float) -> float:
    if not -90.0 <= value <= 90.0:
        raise BadParameter("latitude out of range -90..90")
    return value


def _longitude(value: float) -> float:
    if not -180.0 <= value <= 180.0:
        raise BadParameter("longitude out of range -180..180")
    return value


def _course(value: float | None) -> float:
    if value is None or value < 0:  # negative: the phone does not know
        return 0.0
    if value > 360.0:
        raise BadParameter("course out of range 0..360")
    return value


def _from_unix(number: float) -> datetime:
    try:
        seconds = number if number < _SECONDS_LIMIT else number / 1000.0
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadParameter("timestamp out of range") from None


def _timestamp(text: str) -> datetime:
    """Unix seconds/milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss`` -> aware UTC datetime."""
    if _UNIX_TIME_RE.fullmatch(text):
        return _from_unix(float(text) if "." in text else int(text))
    if len(text) > 40:
        raise BadParameter("timestamp too long")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter("timestamp is neither unix time nor ISO 8601") from None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadParameter("timestamp out of range") from None


def _identifier(value: str) -> str:
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise BadParameter(f"device identifier longer than {MAX_IDENTIFIER_LENGTH} characters")
    if not value.strip() or not value.isprintable():
        raise BadParameter("device identifier has blank or unprintable characters")
    return value


class _Attributes:
    """Collects attributes, enforcing the vocabulary's value types."""

    __slots__ = ("ignored", "values")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.ignored: list[str] = []

    def ignore(self, name: str) -> None:
        self.ignored.append(name if _NAME_RE.fullmatch(name) else "?")

    def put(self, name: str, value: object) -> None:
        """Store ``value`` under ``name`` if both are acceptable, else note ``name`` as ignored."""
        if not _NAME_RE.fullmatch(name):
            self.ignore(name)
            return
        typed = _typed(name, value)
        if typed is None:
            self.ignore(name)
            return
        self.values[name] = typed

    def put_alarm(self, text: str) -> None:
        names = [n.strip() for n in text.split(",") if n.strip()]
        known = [n for n in names if n in TRACCAR_ALARMS]
        if len(known) != len(names):
            self.ignore("alarm")
        if known:
            self.values["alarm"] = ",".join(dict.fromkeys(known))


def _typed(name: str, value: object) -> object | None:
    """``value`` in the type ``name`` has in the vocabulary, or None if it does not fit."""
    if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) if isinstance(value, float) or abs(value) < 2**53 else None
        if number is None or not math.isfinite(number):
            return None
    if name in _BOOLEAN_KEYS:
        if isinstance(value, bool):
            return value
        return number == 1 if number in (0, 1) else None
    if name in _INTEGER_KEYS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return int(number) if number is not None and number.is_integer() else None
    if name in _NUMBER_KEYS:
        return value if number is not None else None
    if name == "batteryLevel":
        return round(number) if number is not None and 0 <= number <= 100 else None
    if name == "alarm":
        return None  # only through put_alarm
    return value


def _scalar(text: str) -> object:
    """An extra parameter's value: integer, finite float, ``true``/``false``, else the text."""
    if _INT_RE.fullmatch(text):
        return int(text)
    if len(text) <= _MAX_NUMBER_TEXT and _NUMBER_RE.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else text
    if text in ("true", "false"):
        return text == "true"
    return text


def _cell(text: str) -> CellTower:
    parts = text.split(",")
    if len(parts) not in (4, 5):
        raise BadParameter("cell needs mcc,mnc,lac,cid[,rssi]")
    mcc, mnc, lac, cid = (_integer(p.strip(), "cell field") for p in parts[:4])
    if not (0 <= mcc <= 999 and 0 <= mnc <= 999 and 0 <= lac <= 0xFFFFFFFF):
        raise BadParameter("cell field out of range")
    if not 0 <= cid <= 0xFFFFFFFFFFFF:
        raise BadParameter("cell id out of range")
    rssi = _integer(parts[4].strip(), "cell signal") if len(parts) == 5 else None
    if rssi is not None and not -200 <= rssi <= 0:
        raise BadParameter("cell signal out of range")
    return CellTower(mcc=mcc, mnc=mnc, lac=lac, cid=cid, signal_strength=rssi)


def _wifi(text: str) -> WifiAccessPoint:
    mac, sep, rssi_text = text.partition(",")
    if not sep or not _MAC_RE.fullmatch(mac.strip()):
        raise BadParameter("wifi needs mac,rssi")
    rssi = _integer(rssi_text.strip(), "wifi signal")
    if not -200 <= rssi <= 0:
        raise BadParameter("wifi signal out of range")
    return WifiAccessPoint(mac_address=mac.strip().replace("-", ":").lower(), signal_strength=rssi)


# ---------------------------------------------------------------------------------------------
# the two forms


_ALIASES = {"deviceid": "id", "heading": "bearing", "satellites": "sat"}
_QUERY_KEYS = frozenset(
    {
        "id", "timestamp", "lat", "lon", "speed", "bearing", "altitude", "accuracy", "hdop",
        "batt", "charge", "valid", "driverUniqueId", "alarm", "motion", "sat",
        "notificationToken",
    }
)  # fmt: skip


def _decode_query(
    pairs: list[tuple[str, str]], *, speed_unit: str, now: datetime | None
) -> OsmandReport:
    identifiers: set[str] = set()
    known: dict[str, str] = {}
    extras: dict[str, str] = {}
    cells: list[CellTower] = []
    aps: list[WifiAccessPoint] = []
    for raw_name, value in pairs:
        if not value:  # Traccar skips empty values
            continue
        name = _ALIASES.get(raw_name, raw_name)
        if name == "id":
            identifiers.add(value)
        elif name == "location":
            lat, sep, lon = value.partition(",")
            if not sep or "," in lon:
                raise BadParameter("location needs lat,lon")
            known["lat"], known["lon"] = lat.strip(), lon.strip()
        elif name == "cell":
            cells.append(_cell(value))
        elif name == "wifi":
            aps.append(_wifi(value))
        elif name in _QUERY_KEYS:
            known[name] = value
        else:
            extras.pop(name, None)  # the last value wins, in its own position
            extras[name] = value
    if not identifiers:
        raise MissingIdentifier("no device identifier (id or deviceid)")
    if len(identifiers) > 1:
        raise BadParameter("conflicting device identifiers")
    identifier = _identifier(identifiers.pop())

    attrs = _Attributes()
    if "accuracy" in known:
        accuracy = _number(known["accuracy"], "accuracy")
        if accuracy >= 0:
            attrs.put("accuracy", accuracy)
        else:
            attrs.ignore("accuracy")
    if "hdop" in known:
        attrs.put("hdop", _number(known["hdop"], "hdop"))
    if "batt" in known:
        level = _number(known["batt"], "batt")
        if 0 <= level <= 100:  # phones send -1 when they do not know
            attrs.put("batteryLevel", level)
        else:
            attrs.ignore("batt")
    for name in ("charge", "motion"):
        if name in known:
            flag = _flag(known[name])
            if flag is None:
                raise BadParameter(f"{name} must be true, false, 1 or 0")
            attrs.put(name, flag)
    if "driverUniqueId" in known:
        attrs.put("driverUniqueId", known["driverUniqueId"])
    if "alarm" in known:
        attrs.put_alarm(known["alarm"])
    for name, value in extras.items():
        attrs.put(name, _scalar(value))

    if "timestamp" in known:
        time, from_device = _timestamp(known["timestamp"]), True
    else:
        time, from_device = (now if now is not None else datetime.now(UTC)), False

    fix: Fix | None = None
    if ("lat" in known) != ("lon" in known):
        raise BadParameter("lat and lon must come together")
    if "lat" in known:
        speed = _number(known["speed"], "speed") if "speed" in known else 0.0
        course = _number(known["bearing"], "bearing") if "bearing" in known else None
        altitude = _number(known["altitude"], "altitude") if "altitude" in known else None
        satellites = _integer(known["sat"], "sat") if "sat" in known else None
        if satellites is not None and not 0 <= satellites <= 255:
            raise BadParameter("sat out of range 0..255")
        valid = True
        if "valid" in known:
            valid = known["valid"].lower() == "true" or known["valid"] == "1"
        fix = Fix(
            fix_time=time,
            latitude=_latitude(_number(known["lat"], "lat")),
            longitude=_longitude(_number(known["lon"], "lon")),
            speed_kmh=max(speed, 0.0) * _KMH_PER_UNIT[speed_unit],
            course_deg=_course(course),
            valid=valid,
            satellites=satellites,
            altitude_m=altitude,
            attributes=dict(attrs.values),
        )
    return OsmandReport(
        identifier=identifier,
        form="query",
        fix=fix,
        time=time,
        time_from_device=from_device,
        attributes=attrs.values,
        cell_towers=tuple(cells),
        access_points=tuple(aps),
        notification_token=known.get("notificationToken"),
        ignored=tuple(attrs.ignored),
    )


def _reject_constant(name: str) -> NoReturn:
    raise BadParameter(f"JSON body contains {name}")


def _json_number(obj: dict[str, object], key: str, what: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadParameter(f"{what} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise BadParameter(f"{what} out of range") from None
    if not math.isfinite(number):
        raise BadParameter(f"{what} is not a finite number")
    return number


def _json_object(obj: dict[str, object], key: str, what: str) -> dict[str, object] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadParameter(f"{what} is not a JSON object")
    return value


def _decode_json(body: bytes) -> OsmandReport:
    if not body:
        raise BadParameter("empty JSON body")
    try:
        root = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise BadParameter("body is not valid UTF-8 JSON") from None
    if not isinstance(root, dict):
        raise BadParameter("JSON body is not an object")
    raw_id = root.get("device_id")
    if raw_id is None or raw_id == "":
        raise MissingIdentifier("no device identifier (device_id)")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise BadParameter("device_id is neither text nor an integer")
    identifier = _identifier(str(raw_id))
    if isinstance(root.get("location"), list):
        raise BadParameter("batched locations (a JSON array) are not supported")
    location = _json_object(root, "location", "location")
    if location is None:
        raise BadParameter("no location object")
    raw_time = location.get("timestamp")
    if isinstance(raw_time, str):
        time = _timestamp(raw_time)
    elif isinstance(raw_time, int) and not isinstance(raw_time, bool) and raw_time >= 0:
        time = _from_unix(raw_time)
    else:
        raise BadParameter("location.timestamp missing or not a timestamp")

    attrs = _Attributes()
    coords = _json_object(location, "coords", "location.coords")
    accuracy = _json_number(coords, "accuracy", "coords.accuracy") if coords else None
    if accuracy is not None and accuracy >= 0:
        attrs.put("accuracy", accuracy)
    moving = location.get("is_moving")
    if isinstance(moving, bool):
        attrs.put("motion", moving)
    odometer = _json_number(location, "odometer", "location.odometer")
    if odometer is not None and odometer >= 0:
        attrs.put("odometer", odometer)
    event = location.get("event")
    if isinstance(event, str) and event:
        attrs.put("clientEvent", event)
    mock = location.get("mock")
    if isinstance(mock, bool):
        attrs.put("mock", mock)
    activity = _json_object(location, "activity", "location.activity")
    if activity is not None and isinstance(activity.get("type"), str):
        attrs.put("activity", activity["type"])
    battery = _json_object(location, "battery", "location.battery")
    if battery is not None:
        level = _json_number(battery, "level", "battery.level")
        if level is not None and 0 <= level <= 1:
            attrs.put("batteryLevel", level * 100)
        charging = battery.get("is_charging")
        if isinstance(charging, bool):
            attrs.put("charge", charging)
    alarm = location.get("alarm")
    if isinstance(alarm, str) and alarm:
        attrs.put_alarm(alarm)
    extras = _json_object(location, "extras", "location.extras")
    for name, value in (extras or {}).items():
        if name == "alarm":
            if isinstance(value, str) and value and "alarm" not in location:
                attrs.put_alarm(value)
        elif isinstance(value, bool | int | float | str):
            attrs.put(name, value)
        elif value is not None:
            attrs.ignore(name)  # nested objects and arrays
    uuid = location.get("uuid")
    message_id = uuid if isinstance(uuid, str) and 0 < len(uuid) <= MAX_NAME_LENGTH else None

    fix: Fix | None = None
    if coords is not None:
        latitude = _json_number(coords, "latitude", "coords.latitude")
        longitude = _json_number(coords, "longitude", "coords.longitude")
        if latitude is None or longitude is None:
            raise BadParameter("coords needs latitude and longitude")
        speed = _json_number(coords, "speed", "coords.speed")
        altitude = _json_number(coords, "altitude", "coords.altitude")
        fix = Fix(
            fix_time=time,
            latitude=_latitude(latitude),
            longitude=_longitude(longitude),
            speed_kmh=speed * _KMH_PER_UNIT["mps"] if speed is not None and speed > 0 else 0.0,
            course_deg=_course(_json_number(coords, "heading", "coords.heading")),
            valid=True,
            altitude_m=altitude,
            attributes=dict(attrs.values),
        )
    return OsmandReport(
        identifier=identifier,
        form="json",
        fix=fix,
        time=time,
        time_from_device=True,
        attributes=attrs.values,
        message_id=message_id,
        ignored=tuple(attrs.ignored),
    )


# ---------------------------------------------------------------------------------------------
# the request


_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "text/plain"})


def _media_type(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS, errors="replace"
        )
    except ValueError:
        raise BadParameter(f"more than {MAX_PARAMETERS} parameters") from None


def parse_request(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    *,
    speed_unit: SpeedUnit = "kn",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    now: datetime | None = None,
) -> OsmandReport:
    """Decode one HTTP request into a report, or raise an :class:`OsmandError`.

    ``headers`` names are matched case-insensitively. ``speed_unit`` is the unit of the query
    form's ``speed`` (Traccar's ``osmand.speed``, default knots); the JSON form is always m/s.
    ``now`` (aware) stands in for a missing timestamp; default: the current UTC time.
    """
    if method not in ("GET", "POST"):
        raise MethodNotAllowed("only GET and POST are accepted")
    if len(target) > MAX_TARGET_LENGTH:
        raise UriTooLong(f"request target longer than {MAX_TARGET_LENGTH} characters")
    if len(body) > max_body_bytes:
        raise BodyTooLarge(f"body of {len(body)} bytes exceeds {max_body_bytes}")
    if speed_unit not in _KMH_PER_UNIT:
        raise ValueError(f"unknown speed unit {speed_unit!r}")
    media_type = _media_type(headers)
    if media_type == "application/json" or media_type.endswith("+json"):
        return _decode_json(body)
    try:
        query = urlsplit(target).query
    except ValueError:
        raise BadParameter("request target is not a URL") from None
    pairs = _pairs(query)
    if not pairs and body:
        if media_type not in _FORM_TYPES:
            raise UnsupportedContentType("the body must be form-urlencoded or JSON")
        pairs = _pairs(body.decode("latin-1"))
    return _decode_query(pairs, speed_unit=speed_unit, now=now)


# ---------------------------------------------------------------------------------------------
# the answer


@dataclass(frozen=True, slots=True)
class OsmandResponse:
    """What to answer: ``status``, an optional text ``body``, and whether to close afterwards."""

    status: int
    body: bytes = b""
    close: bool = False

    def encode(self, *, keep_alive: bool = True) -> bytes:
        """The HTTP/1.1 response bytes (``keep_alive``: the request's wish)."""
        return encode_response(self.status, self.body, keep_alive=keep_alive and not self.close)


def response_for(
    outcome: OsmandReport | ProtocolError, *, known_device: bool = True, command: str | None = None
) -> OsmandResponse:
    """The answer to a decoded report or to the error decoding raised.

    ``known_device`` False (the identifier is not registered) gives 404. ``command`` is a queued
    command text to hand the device in the 200 body (Traccar does so for the query form).
    Errors that are not :class:`OsmandError` (a generic :class:`ProtocolError`) give 400.
    """
    if isinstance(outcome, OsmandReport):
        if not known_device:
            return OsmandResponse(HTTPStatus.NOT_FOUND)
        return OsmandResponse(HTTPStatus.OK, command.encode("utf-8") if command else b"")
    if isinstance(outcome, OsmandError):
        return OsmandResponse(outcome.http_status, close=outcome.close_connection)
    return OsmandResponse(HTTPStatus.BAD_REQUEST)


def encode_response(
    status: int,
    body: bytes = b"",
    *,
    keep_alive: bool = True,
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A complete HTTP/1.1 response with ``Content-Length`` and ``Connection`` headers."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 request framing


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as framed by :class:`HttpRequestParser`. Header names are lower case;
    repeated headers are joined with ``", "``. ``keep_alive`` is what the client asked for."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


_TCHAR = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_CHUNK_LINE = 256

_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _CLOSED = range(6)


class HttpRequestParser:
    """Turns a TCP byte stream into :class:`HttpRequest` values; one instance per connection.

    * HTTP/1.0 and 1.1; keep-alive (1.1 default, ``Connection: close`` ends it; 1.0 needs
      ``Connection: keep-alive``) and pipelining: several requests per :meth:`feed` are fine;
      bytes after a request that ends the connection are discarded (``discarded_bytes``);
    * bodies framed by ``Content-Length`` or ``Transfer-Encoding: chunked`` (Traccar Client 9
      uploads its push token chunked); no length means no body, as RFC 9112 says;
    * bounded: request line + headers at most ``max_header_bytes`` (:class:`HeaderTooLarge`),
      bodies at most ``max_body_bytes`` (:class:`BodyTooLarge`, raised as soon as the length is
      known), at most ``max_headers`` header lines; the buffer never holds more than about
      ``max_header_bytes + max_body_bytes``;
    * strict where lenient parsing invites request smuggling: no bare CR/LF, no obsolete line
      folding, no whitespace before a colon, ``Content-Length`` and ``Transfer-Encoding``
      together refused, conflicting lengths refused.

    A malformed stream raises an :class:`HttpError` (or :class:`BodyTooLarge`); answer with
    :func:`response_for` and close: the parser refuses further input. For ``Expect:
    100-continue`` send :data:`CONTINUE_RESPONSE` whenever :meth:`take_continue` says so.
    """

    __slots__ = (
        "_body",
        "_buf",
        "_continue",
        "_failed",
        "_head",
        "_remaining",
        "_state",
        "_trailer_bytes",
        "discarded_bytes",
        "max_body_bytes",
        "max_header_bytes",
        "max_headers",
        "requests",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_headers: int = 64,
    ) -> None:
        if max_header_bytes < 64 or max_body_bytes < 0 or max_headers < 1:
            raise ValueError("max_header_bytes >= 64, max_body_bytes >= 0, max_headers >= 1")
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.max_headers = max_headers
        self._buf = bytearray()
        self._body = bytearray()
        self._state = _HEAD
        self._head: HttpRequest | None = None  # the current request, body still empty
        self._remaining = 0
        self._trailer_bytes = 0
        self._continue = False
        self._failed = False
        #: requests returned so far
        self.requests = 0
        #: bytes received after a request that closes the connection
        self.discarded_bytes = 0

    @property
    def buffered(self) -> int:
        """Bytes held for the request in progress."""
        return len(self._buf) + len(self._body)

    @property
    def closed(self) -> bool:
        """True once a request asked to close the connection (or the stream was malformed)."""
        return self._state == _CLOSED or self._failed

    def take_continue(self) -> bool:
        """True (once per request) when the client waits for ``100 Continue`` before its body."""
        pending, self._continue = self._continue, False
        return pending

    def feed(self, data: bytes) -> list[HttpRequest]:
        """Add ``data`` from the stream; return every request it completed, in order."""
        if self._failed:
            raise HttpError("the stream already failed; close the connection")
        out: list[HttpRequest] = []
        step = self.max_header_bytes
        for offset in range(0, max(len(data), 1), step):
            if self._state == _CLOSED:
                self.discarded_bytes += len(data) - offset
                break
            self._buf += data[offset : offset + step]
            try:
                self._parse(out)
            except ProtocolError:
                self._failed = True
                self._buf.clear()
                self._body.clear()
                raise
        if self._state == _CLOSED and self._buf:
            self.discarded_bytes += len(self._buf)
            self._buf.clear()
        self.requests += len(out)
        return out

    # -- the state machine: each step consumes input or returns to wait for more --------------

    def _parse(self, out: list[HttpRequest]) -> None:
        while True:
            state = self._state
            if state == _HEAD:
                if not self._read_head():
                    return
            elif state == _BODY:
                self._take_body()
                if self._remaining:
                    return
                self._finish(out)
            elif state == _CHUNK_SIZE:
                if not self._read_chunk_size():
                    return
            elif state == _CHUNK_DATA:
                self._take_body()
                if self._remaining:
                    return
                if len(self._buf) < 2:
                    return
                if self._buf[:2] != b"\r\n":
                    raise HttpError("chunk data not followed by CRLF")
                del self._buf[:2]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                if not self._read_trailers(out):
                    return
            else:  # _CLOSED
                return

    def _take_body(self) -> None:
        n = min(self._remaining, len(self._buf))
        if n:
            self._body += self._buf[:n]
            del self._buf[:n]
            self._remaining -= n

    def _read_head(self) -> bool:
        buf = self._buf
        while buf[:2] == b"\r\n":  # RFC 9112 2.2: ignore empty lines before a request line
            del buf[:2]
        end = buf.find(b"\r\n\r\n", 0, self.max_header_bytes + 4)
        if end < 0:
            if len(buf) > self.max_header_bytes:
                raise HeaderTooLarge(f"request head exceeds {self.max_header_bytes} bytes")
            return False
        head = bytes(buf[:end])
        del buf[: end + 4]
        self._start(head)
        return True

    def _start(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        if any(b"\r" in line or b"\n" in line for line in lines):
            raise HttpError("bare CR or LF in the request head")
        if len(lines) - 1 > self.max_headers:
            raise HeaderTooLarge(f"more than {self.max_headers} header lines")
        method, target, version = self._request_line(lines[0])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not _TCHAR.fullmatch(name):
                raise HttpError("malformed header line")
            value = value.strip(b" \t")
            if _BAD_VALUE.search(value):
                raise HttpError("control character in a header value")
            key = name.decode("ascii").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection and "close" not in connection
        self._head = HttpRequest(method, target, version, headers, b"", keep_alive)
        self._body.clear()
        transfer = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if transfer is not None:
            if length is not None:
                raise HttpError("both Content-Length and Transfer-Encoding")
            if [c.strip().lower() for c in transfer.split(",")] != ["chunked"]:
                raise TransferCodingNotImplemented("only the chunked transfer coding is supported")
            self._state = _CHUNK_SIZE
        elif length is not None:
            values = {v.strip() for v in length.split(",")}
            if len(values) != 1:
                raise HttpError("conflicting Content-Length values")
            (text_length,) = values
            if not (text_length.isascii() and text_length.isdigit()) or len(text_length) > 18:
                raise HttpError("Content-Length is not a number")
            size = int(text_length)
            if size > self.max_body_bytes:
                raise BodyTooLarge(f"body of {size} bytes exceeds {self.max_body_bytes}")
            self._remaining = size
            self._state = _BODY
        else:
            self._remaining = 0
            self._state = _BODY
        expects = headers.get("expect", "").strip().lower() == "100-continue"
        has_body = self._state == _CHUNK_SIZE or self._remaining > 0
        self._continue = expects and version == "HTTP/1.1" and has_body
        self._trailer_bytes = 0

    @staticmethod
    def _request_line(line: bytes) -> tuple[str, str, str]:
        parts = line.split(b" ")
        if len(parts) != 3:
            raise HttpError("malformed request line")
        method, target, version = parts
        if not _TCHAR.fullmatch(method) or not _TARGET.fullmatch(target):
            raise HttpError("malformed request line")
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            if re.fullmatch(rb"HTTP/[0-9]\.[0-9]", version):
                raise HttpVersionNotSupported("only HTTP/1.0 and HTTP/1.1 are supported")
            raise HttpError("malformed request line")
        return method.decode("ascii"), target.decode("ascii"), version.decode("ascii")

    def _read_chunk_size(self) -> bool:
        buf = self._buf
        end = buf.find(b"\r\n", 0, _MAX_CHUNK_LINE + 2)
        if end < 0:
            if len(buf) > _MAX_CHUNK_LINE:
                raise HttpError("chunk size line too long")
            return False
        line = bytes(buf[:end])
        del buf[: end + 2]
        size_text = line.split(b";", 1)[0].strip(b" \t")
        if not _HEX.fullmatch(size_text) or _BAD_VALUE.search(line):
            raise HttpError("malformed chunk size")
        size = int(size_text, 16)
        if len(self._body) + size > self.max_body_bytes:
            raise BodyTooLarge(f"chunked body exceeds {self.max_body_bytes} bytes")
        if size == 0:
            self._state = _TRAILERS
        else:
            self._remaining = size
            self._state = _CHUNK_DATA
        return True

    def _read_trailers(self, out: list[HttpRequest]) -> bool:
        buf = self._buf
        while True:
            end = buf.find(b"\r\n", 0, self.max_header_bytes + 2)
            if end < 0:
                if len(buf) + self._trailer_bytes > self.max_header_bytes:
                    raise HeaderTooLarge(f"chunk trailers exceed {self.max_header_bytes} bytes")
                return False
            line = bytes(buf[:end])
            del buf[: end + 2]
            if not line:
                self._finish(out)
                return True
            self._trailer_bytes += end + 2
            if self._trailer_bytes > self.max_header_bytes:
                raise HeaderTooLarge(f"chunk trailers exceed {self.max_header_bytes} bytes")
            name, sep, _ = line.partition(b":")
            if not sep or not _TCHAR.fullmatch(name):
                raise HttpError("malformed trailer line")  # trailers are otherwise ignored

    def _finish(self, out: list[HttpRequest]) -> None:
        head = self._head
        assert head is not None
        request = HttpRequest(
            head.method, head.target, head.version, head.headers, bytes(self._body), head.keep_alive
        )
        out.append(request)
        self._head = None
        self._body.clear()
        self._remaining = 0
        self._continue = False
        self._state = _HEAD if request.keep_alive else _CLOSED
