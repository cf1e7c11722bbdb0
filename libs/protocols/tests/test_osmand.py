"""OsmAnd / Traccar Client HTTP protocol: real requests, errors, answers, HTTP framing, fuzzing.

Request sources:

* ``traccar``: traccar/traccar ``OsmAndProtocolDecoderTest.java`` (query and JSON forms);
* ``client-android``: traccar/traccar-client-android ``ProtocolFormatterTest.kt`` (expected URLs);
* ``client-ios``: the query traccar-client-ios ``ProtocolFormatter.swift`` builds (``lat=%.06f``,
  integer unix seconds, knots), with values of our own;
* ``client-flutter``: traccar/traccar-client ``lib/push_service.dart``, the form-urlencoded token
  upload (Dart's ``HttpClient`` frames a body of unknown length as chunked), token of our own.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.network import CellTower, WifiAccessPoint
from trackstream_protocols.osmand import (
    CONTINUE_RESPONSE,
    BadParameter,
    BodyTooLarge,
    HeaderTooLarge,
    HttpError,
    HttpRequest,
    HttpRequestParser,
    HttpVersionNotSupported,
    MethodNotAllowed,
    MissingIdentifier,
    OsmandError,
    OsmandReport,
    TransferCodingNotImplemented,
    UnsupportedContentType,
    UriTooLong,
    encode_response,
    parse_request,
    response_for,
)

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
JSON_HEADERS = {"Content-Type": "application/json"}
KNOT = 1.852

# --- traccar: OsmAndProtocolDecoderTest.testDecodeQuery -------------------------------------------
Q_CELLS_WIFI = (  # no position: cell towers and Wi-Fi only
    "/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90"
    "&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70"
)
Q_NO_ID = "/?timestamp=1377177267&lat=60.0&lon=30.0"
Q_ISO_TIME = (
    "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0"
    "&altitude=224.0&speed=0.0"
)
Q_MILLIS = (
    "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0"
    "&speed=0.0"
)
Q_LOCAL_TIME = (
    "/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0"
    "&id=353861053849681"
)
Q_FULL = (
    "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0"
)
Q_MINIMAL = "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0"
Q_NO_TIME = "/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456"
Q_BATTERY = (
    "/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87"
)
Q_LOCATION = "/?id=123456&timestamp=1377177267&location=60.0,30.0"
Q_OBD = (
    "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
    "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"
)
TRACCAR_QUERIES = (
    Q_ISO_TIME,
    Q_MILLIS,
    Q_LOCAL_TIME,
    Q_FULL,
    Q_MINIMAL,
    Q_NO_TIME,
    Q_BATTERY,
    Q_LOCATION,
    Q_OBD,
)

# --- client-android: ProtocolFormatterTest (Location("gps") at the epoch) ------------------------
ANDROID_PLAIN = (
    "http://localhost:5055?id=123456789012345&timestamp=0&lat=0.0&lon=0.0&speed=0.0&bearing=0.0"
    "&altitude=0.0&accuracy=0.0&batt=0.0"
)
ANDROID_PATH = (
    "http://localhost:8888/path?id=123456789012345&timestamp=0&lat=0.0&lon=0.0&speed=0.0"
    "&bearing=0.0&altitude=0.0&accuracy=0.0&batt=0.0"
)
ANDROID_ALARM = (
    "http://localhost:5055/path?id=123456789012345&timestamp=0&lat=0.0&lon=0.0&speed=0.0"
    "&bearing=0.0&altitude=0.0&accuracy=0.0&batt=0.0&alarm=alert%20message"
)

# --- client-ios: ProtocolFormatter.swift layout ---------------------------------------------------
IOS_QUERY = (
    "/?id=412345&timestamp=1719835200&lat=48.858370&lon=2.294481&speed=12.5&bearing=271.0"
    "&altitude=35.2&batt=64.0"
)

# --- traccar: OsmAndProtocolDecoderTest.testDecodeJson (Traccar Client 9 JSON) -------------------
J_TEMPLATE = (
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    '"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    '"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    '"activity":{"type":"still"},"extras":{},'
    '"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},'
    '"device_id":"48241179"}'
)
J_EXTRAS = (
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    '"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    '"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    '"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id",'
    '"device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,'
    '"device_double_test":1.345,"device_very_long_double_test":1763636.3442},'
    '"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},'
    '"device_id":"48241179"}'
)
J_IOS_MOCK = (
    '{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,'
    '"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,'
    '"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,'
    '"heading":-1},"is_moving":false,"age":188,"odometer":0,'
    '"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange",'
    '"battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},'
    '"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}'
)
J_MOVING = (
    '{"location":{"event":"motionchange","is_moving":false,'
    '"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z",'
    '"odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,'
    '"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,'
    '"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},'
    '"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}'
)
TRACCAR_JSON = (J_TEMPLATE, J_EXTRAS, J_IOS_MOCK, J_MOVING)

# --- client-flutter: push token upload, chunked --------------------------------------------------
TOKEN_BODY = b"id=48241179&notificationToken=fcm%3AAPA91bEXAMPLE-token_1"
TOKEN_REQUEST = (
    b"POST / HTTP/1.1\r\n"
    b"user-agent: Dart/3.8 (dart:io)\r\n"
    b"content-type: application/x-www-form-urlencoded; charset=utf-8\r\n"
    b"accept-encoding: gzip\r\n"
    b"transfer-encoding: chunked\r\n"
    b"host: demo.traccar.org:5055\r\n"
    b"\r\n" + f"{len(TOKEN_BODY):x}".encode() + b"\r\n" + TOKEN_BODY + b"\r\n0\r\n\r\n"
)


def query(target: str, **kwargs: object) -> OsmandReport:
    return parse_request("GET", target, {}, b"", now=NOW, **kwargs)  # type: ignore[arg-type]


def from_json(body: str, **kwargs: object) -> OsmandReport:
    return parse_request("POST", "/", JSON_HEADERS, body.encode(), now=NOW, **kwargs)  # type: ignore[arg-type]


def http(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost:5055"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ---------------------------------------------------------------------------------------------
# query form


@pytest.mark.parametrize("target", TRACCAR_QUERIES)
def test_traccar_queries_decode_to_plausible_fixes(target: str) -> None:
    report = query(target)
    assert report.form == "query"
    assert report.fix is not None
    verify_position(report.fix)
    assert report.fix.attributes == report.attributes
    assert report.time == report.fix.fix_time


def test_query_values_and_units() -> None:
    report = query(Q_OBD)
    fix = report.fix
    assert fix is not None
    assert report.identifier == "123456789012345"
    assert fix.fix_time == datetime(2017, 9, 7, 5, 56, 50, tzinfo=UTC)
    assert (fix.latitude, fix.longitude) == (40.7232948571, -74.0061408571)
    assert fix.speed_kmh == pytest.approx(40 * KNOT)  # Traccar's default unit: knots
    assert fix.course_deg == pytest.approx(7.19889788244)
    assert fix.valid is True and fix.altitude_m is None
    assert report.attributes == {"ignition": True, "rpm": 933, "fuel": 24}


def test_timestamp_forms() -> None:
    iso = query(Q_ISO_TIME).time
    assert iso == datetime(2016, 1, 27, 18, 55, 47, tzinfo=UTC)
    millis = query(Q_MILLIS).time
    assert millis == datetime(2015, 9, 12, 14, 38, 6, 579000, tzinfo=UTC)
    local = query(Q_LOCAL_TIME).time  # "yyyy-MM-dd HH:mm:ss", '+' for the space; read as UTC
    assert local == datetime(2014, 6, 4, 9, 10, 11, tzinfo=UTC)
    seconds = query(Q_MINIMAL)
    assert seconds.time == datetime(2013, 8, 22, 13, 14, 27, tzinfo=UTC)
    assert seconds.time_from_device is True
    offset = query("/?id=1&lat=1&lon=1&timestamp=2024-03-01T10:00:00%2B02:00").time
    assert offset == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def test_missing_timestamp_uses_the_server_time() -> None:
    report = query(Q_NO_TIME)
    assert report.time == NOW and report.time_from_device is False
    assert report.identifier == "123456"  # deviceid alias
    assert report.attributes == {"vacc": 0, "hacc": 0}
    assert report.fix is not None and report.fix.altitude_m == 0.0
    default = parse_request("GET", Q_NO_TIME, {}, b"")
    assert abs(default.time - datetime.now(UTC)) < timedelta(minutes=1)


def test_location_parameter_and_battery() -> None:
    fix = query(Q_LOCATION).fix
    assert fix is not None and (fix.latitude, fix.longitude) == (60.0, 30.0)
    report = query(Q_BATTERY)
    assert report.attributes == {"batteryLevel": 87}
    assert report.identifier == "861001000719969"


def test_cells_and_wifi_without_a_position() -> None:
    report = query(Q_CELLS_WIFI)
    assert report.fix is None
    assert report.cell_towers == (
        CellTower(mcc=257, mnc=2, lac=16, cid=2224),
        CellTower(mcc=257, mnc=2, lac=16, cid=2223, signal_strength=-90),
    )
    assert report.access_points == (
        WifiAccessPoint("00:14:22:01:23:45", -80),
        WifiAccessPoint("00:1c:b3:09:85:15", -70),
    )
    assert response_for(report).status == 200


def test_traccar_rejects_a_query_without_id() -> None:
    with pytest.raises(MissingIdentifier) as caught:
        query(Q_NO_ID)
    assert response_for(caught.value).status == 400


@pytest.mark.parametrize("target", [ANDROID_PLAIN, ANDROID_PATH, ANDROID_ALARM])
def test_android_client_urls(target: str) -> None:
    report = parse_request("POST", target, {}, b"", now=NOW)  # the client POSTs, empty body
    fix = report.fix
    assert fix is not None and report.identifier == "123456789012345"
    assert fix.fix_time == datetime(1970, 1, 1, tzinfo=UTC)
    assert report.attributes == {"accuracy": 0.0, "batteryLevel": 0}
    # these test vectors sit at the epoch: the codec reports them, plausibility filters them
    with pytest.raises(AssertionError, match="not after 2000"):
        verify_position(fix)
    if target == ANDROID_ALARM:
        assert report.ignored == ("alarm",)  # "alert message" is no Traccar alarm name


def test_android_sos_alarm() -> None:
    report = query("/?id=1&timestamp=1719835200&lat=1.5&lon=2.5&alarm=sos")
    assert report.fix is not None
    assert verify_position(report.fix).attributes["alarm"] == "sos"
    mixed = query("/?id=1&lat=1&lon=1&alarm=sos,bogus,sos")
    assert mixed.attributes["alarm"] == "sos" and mixed.ignored == ("alarm",)


def test_ios_client_query() -> None:
    report = query(IOS_QUERY)
    fix = verify_position(report.fix)  # type: ignore[arg-type]
    assert fix.speed_kmh == pytest.approx(12.5 * KNOT)
    assert fix.course_deg == 271.0 and fix.altitude_m == 35.2
    assert report.attributes == {"batteryLevel": 64}


def test_osmand_app_sends_metres_per_second() -> None:
    target = "/?id=7&lat=52.52&lon=13.405&timestamp=1719835200000&hdop=4.0&altitude=34.0&speed=10.0"
    fix = query(target, speed_unit="mps").fix
    assert fix is not None and fix.speed_kmh == pytest.approx(36.0)
    assert query(target, speed_unit="kmh").fix.speed_kmh == 10.0  # type: ignore[union-attr]
    assert query(target, speed_unit="mph").fix.speed_kmh == pytest.approx(16.09344)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="speed unit"):
        query(target, speed_unit="furlongs")


def test_flags_validity_and_unknown_sentinels() -> None:
    report = query(
        "/?id=9&lat=1&lon=1&valid=0&charge=true&motion=0&bearing=-1&speed=-1&batt=-1"
        "&driverUniqueId=D-17&sat=7&accuracy=-1"
    )
    fix = report.fix
    assert fix is not None
    assert fix.valid is False and fix.course_deg == 0.0 and fix.speed_kmh == 0.0
    assert fix.satellites == 7
    assert report.attributes == {"charge": True, "motion": False, "driverUniqueId": "D-17"}
    assert set(report.ignored) == {"batt", "accuracy"}
    assert query("/?id=9&lat=1&lon=1&valid=TRUE").fix.valid is True  # type: ignore[union-attr]


def test_extra_parameters_keep_vocabulary_types() -> None:
    report = query(
        "/?id=9&lat=1&lon=1&rssi=-70&status=12.0&ignition=1&door=maybe&power=12.6&odometer=x"
        "&batteryLevel=55.4&note=hello&flag=false&big=1e999&weird%20name=1"
    )
    assert report.attributes == {
        "rssi": -70,
        "status": 12,
        "ignition": True,
        "power": 12.6,
        "batteryLevel": 55,
        "note": "hello",
        "flag": False,
        "big": "1e999",
    }
    assert set(report.ignored) == {"door", "odometer", "?"}
    verify_position(report.fix)  # type: ignore[arg-type]


def test_form_body_push_token_upload() -> None:
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    report = parse_request("POST", "/", headers, TOKEN_BODY, now=NOW)
    assert report.identifier == "48241179"
    assert report.fix is None and report.attributes == {}
    assert report.notification_token == "fcm:APA91bEXAMPLE-token_1"
    assert report.time_from_device is False


def test_query_wins_over_body_like_traccar() -> None:
    report = parse_request(
        "POST", "/?id=5&lat=1&lon=2", {"Content-Type": "application/xml"}, b"<x/>", now=NOW
    )
    assert report.identifier == "5"


# ---------------------------------------------------------------------------------------------
# JSON form


@pytest.mark.parametrize("body", TRACCAR_JSON)
def test_traccar_json_decodes_to_plausible_fixes(body: str) -> None:
    report = from_json(body)
    assert report.form == "json" and report.time_from_device
    assert report.fix is not None
    verify_position(report.fix)
    assert report.fix.attributes == report.attributes


def test_json_template_values() -> None:
    report = from_json(J_TEMPLATE)
    fix = report.fix
    assert fix is not None and report.identifier == "48241179"
    assert fix.fix_time == datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC)
    assert (fix.latitude, fix.longitude, fix.altitude_m) == (37.4219983, -122.084, 5.0)
    assert fix.course_deg == 0.0 and fix.speed_kmh == 0.0 and fix.valid
    assert report.attributes == {
        "accuracy": 5.0,
        "motion": False,
        "odometer": 0.0,
        "clientEvent": "motionchange",
        "activity": "still",
        "batteryLevel": 100,
        "charge": False,
    }
    assert report.message_id is None and report.ignored == ()


def test_json_speed_is_metres_per_second() -> None:
    report = from_json(J_MOVING)
    fix = report.fix
    assert fix is not None
    assert fix.speed_kmh == pytest.approx(18.67 * 3.6)
    assert fix.course_deg == 63.0
    assert report.attributes["batteryLevel"] == 79
    assert report.message_id == "0e9a2473-a9a7-4c00-997b-fb97d2154e75"


def test_json_unknown_values_from_ios() -> None:
    report = from_json(J_IOS_MOCK)
    assert report.fix is not None and report.fix.speed_kmh == 0.0
    assert "batteryLevel" not in report.attributes  # level -1: unknown
    assert report.attributes["mock"] is True
    assert report.message_id == "2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8"


def test_json_extras_become_attributes() -> None:
    attributes = from_json(J_EXTRAS).attributes
    assert attributes["device_string_test"] == "long_device_id"
    assert attributes["device_bool_test"] is True
    assert attributes["device_bool_false_test"] is False
    assert attributes["device_integer_test"] == 1
    assert attributes["device_double_test"] == 1.345
    assert attributes["device_very_long_double_test"] == 1763636.3442


def test_json_alarm_heartbeat_and_nested_extras() -> None:
    body = json.loads(J_TEMPLATE)
    body["location"]["extras"] = {"alarm": "sos", "heartbeat": True, "nested": {"a": 1}}
    report = from_json(json.dumps(body))
    assert report.attributes["alarm"] == "sos"
    assert report.attributes["heartbeat"] is True
    assert report.ignored == ("nested",)
    body["location"]["alarm"] = "lowBattery"  # location.alarm wins over extras.alarm
    assert from_json(json.dumps(body)).attributes["alarm"] == "lowBattery"


def test_json_without_coords_has_no_fix() -> None:
    body = json.loads(J_TEMPLATE)
    del body["location"]["coords"]
    report = from_json(json.dumps(body))
    assert report.fix is None and report.attributes["batteryLevel"] == 100


def test_json_with_charset_and_numeric_device_id() -> None:
    body = json.loads(J_MOVING)
    body["device_id"] = 8737767034
    report = parse_request(
        "POST", "/", {"content-type": "application/json; charset=utf-8"}, json.dumps(body).encode()
    )
    assert report.identifier == "8737767034"


# ---------------------------------------------------------------------------------------------
# errors: the right class and status, and never the identifier (nor other values) in the text

SECRET = "861234567890123"


def _json_with(**location: object) -> bytes:
    base = json.loads(J_MOVING)
    base["device_id"] = SECRET
    base["location"].update(location)
    return json.dumps(base).encode()


RequestParts = tuple[str, str, dict[str, str], bytes]


def _q(params: str, method: str = "GET") -> RequestParts:
    return (method, f"/?id={SECRET}&{params}", {}, b"")


def _raw(target: str) -> RequestParts:
    return ("GET", target, {}, b"")


def _j(body: bytes) -> RequestParts:
    return ("POST", "/", JSON_HEADERS, body)


def _post(body: bytes, content_type: str | None = None) -> RequestParts:
    return ("POST", "/", {"Content-Type": content_type} if content_type else {}, body)


ERROR_CASES: list[tuple[RequestParts, type[OsmandError], int]] = [
    (_q("lat=abc&lon=1"), BadParameter, 400),
    (_q("lat=91&lon=1"), BadParameter, 400),
    (_q("lat=1&lon=-180.5"), BadParameter, 400),
    (_q("lat=1"), BadParameter, 400),
    (_q("lat=1&lon=1&speed=fast"), BadParameter, 400),
    (_q("lat=1&lon=1&speed=NaN"), BadParameter, 400),
    (_q("lat=1&lon=1&bearing=400"), BadParameter, 400),
    (_q("lat=1&lon=1&timestamp=yesterday"), BadParameter, 400),
    (_q("lat=1&lon=1&timestamp=99999999999999999999"), BadParameter, 400),
    (_q("lat=1&lon=1&motion=maybe"), BadParameter, 400),
    (_q("lat=1&lon=1&sat=300"), BadParameter, 400),
    (_q("location=1"), BadParameter, 400),
    (_q("cell=1,2,3"), BadParameter, 400),
    (_q("wifi=zz,-5"), BadParameter, 400),
    (_q("deviceid=other&lat=1&lon=1"), BadParameter, 400),
    (_raw("/?id=%01%02&lat=1&lon=1"), BadParameter, 400),
    (_raw("/?id=" + "9" * 200), BadParameter, 400),
    (_raw("/?lat=1&lon=1&id="), MissingIdentifier, 400),
    (_raw("/?" + "&".join(f"p{i}=1" for i in range(300))), BadParameter, 400),
    (_raw("/?id=1&x=" + "a" * 9000), UriTooLong, 414),
    (_q("lat=1&lon=1", method="PUT"), MethodNotAllowed, 405),
    (_post(f"id={SECRET}".encode(), "multipart/form-data"), UnsupportedContentType, 415),
    (_post(b"x" * 70000), BodyTooLarge, 413),
    (_j(b""), BadParameter, 400),
    (_j(b"{not json"), BadParameter, 400),
    (_j(b"\xff\xfe"), BadParameter, 400),
    (_j(b"[1, 2]"), BadParameter, 400),
    (_j(b"[" * 5000 + b"]" * 5000), BadParameter, 400),
    (_j(b'{"location": {}}'), MissingIdentifier, 400),
    (_j(f'{{"device_id": "{SECRET}"}}'.encode()), BadParameter, 400),
    (_j(f'{{"device_id": "{SECRET}", "location": []}}'.encode()), BadParameter, 400),
    (_j(_json_with(timestamp="soon")), BadParameter, 400),
    (_j(_json_with(timestamp=None)), BadParameter, 400),
    (_j(_json_with(timestamp=10**400)), BadParameter, 400),
    (_j(_json_with(timestamp=True)), BadParameter, 400),
    (_j(_json_with(coords={"latitude": 95, "longitude": 1})), BadParameter, 400),
    (_j(_json_with(coords={"latitude": 1})), BadParameter, 400),
    (_j(_json_with(coords={"latitude": True, "longitude": 1})), BadParameter, 400),
    (_j(_json_with(coords={"latitude": 10**400, "longitude": 1})), BadParameter, 400),
    (_j(_json_with(battery=[1])), BadParameter, 400),
    (_j(_json_with().replace(b"63", b"NaN")), BadParameter, 400),
]


@pytest.mark.parametrize(("request_parts", "error", "status"), ERROR_CASES)
def test_bad_requests(request_parts: RequestParts, error: type[OsmandError], status: int) -> None:
    method, target, headers, body = request_parts
    with pytest.raises(error) as caught:
        parse_request(method, target, headers, body, now=NOW)
    message = str(caught.value)
    assert message and SECRET not in message and "other" not in message
    for value in ("abc", "fast", "yesterday", "maybe", "soon", "95"):
        assert value not in message
    assert isinstance(caught.value, ProtocolError)
    answer = response_for(caught.value)
    assert answer.status == status
    assert answer.encode().startswith(f"HTTP/1.1 {status} ".encode())


def test_body_too_large_is_a_frame_too_large_and_closes() -> None:
    with pytest.raises(FrameTooLarge):
        parse_request("POST", "/", {}, b"id=1", max_body_bytes=2)
    answer = response_for(BodyTooLarge("x"))
    assert answer.close and b"Connection: close" in answer.encode(keep_alive=True)


# ---------------------------------------------------------------------------------------------
# answers


def test_answers() -> None:
    report = query(Q_MINIMAL)
    ok = response_for(report)
    assert ok.status == 200 and ok.body == b"" and not ok.close
    assert ok.encode() == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    )
    with_command = response_for(report, command="positionSingle")
    assert with_command.encode(keep_alive=False) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Connection: close\r\n\r\npositionSingle"
    )
    unknown = response_for(report, known_device=False)
    assert unknown.status == 404 and unknown.encode().startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert response_for(ProtocolError("generic")).status == 400
    assert encode_response(299).startswith(b"HTTP/1.1 299 Unknown\r\n")


# ---------------------------------------------------------------------------------------------
# HTTP framing


ANDROID_WIRE = http("POST", ANDROID_PATH.removeprefix("http://localhost:8888"), {})
JSON_WIRE = http(
    "POST", "/", {"Content-Type": "application/json; charset=utf-8"}, J_MOVING.encode()
)


def requests_of(wire: bytes, **kwargs: int) -> list[HttpRequest]:
    return HttpRequestParser(**kwargs).feed(wire)


def test_parser_frames_real_requests() -> None:
    (android,) = requests_of(ANDROID_WIRE)
    assert android.method == "POST" and android.body == b"" and android.keep_alive
    assert android.target.startswith("/path?id=123456789012345")
    (flutter,) = requests_of(JSON_WIRE)
    assert flutter.headers["content-type"] == "application/json; charset=utf-8"
    assert flutter.body == J_MOVING.encode()
    (token,) = requests_of(TOKEN_REQUEST)
    assert token.body == TOKEN_BODY and token.headers["transfer-encoding"] == "chunked"


def test_parser_to_report_to_answer() -> None:
    parser = HttpRequestParser()
    answers = []
    for request in parser.feed(ANDROID_WIRE + JSON_WIRE + TOKEN_REQUEST):
        report = parse_request(request.method, request.target, request.headers, request.body)
        answers.append(response_for(report).encode(keep_alive=request.keep_alive))
    assert len(answers) == 3 and all(a.startswith(b"HTTP/1.1 200 OK") for a in answers)


def test_parser_handles_every_split_point() -> None:
    wire = ANDROID_WIRE + TOKEN_REQUEST + JSON_WIRE
    whole = requests_of(wire)
    assert len(whole) == 3
    for cut in range(1, len(wire)):
        parser = HttpRequestParser()
        assert parser.feed(wire[:cut]) + parser.feed(wire[cut:]) == whole
    parser = HttpRequestParser()
    assert [r for b in wire for r in parser.feed(bytes([b]))] == whole
    assert parser.requests == 3 and parser.buffered == 0


def test_keep_alive_and_close() -> None:
    close = http("GET", "/?id=1", {"Connection": "close"})
    parser = HttpRequestParser()
    requests = parser.feed(close + ANDROID_WIRE)
    assert len(requests) == 1 and not requests[0].keep_alive
    assert parser.closed and parser.discarded_bytes == len(ANDROID_WIRE)
    assert parser.feed(ANDROID_WIRE) == []
    old = b"GET /?id=1 HTTP/1.0\r\n\r\n"
    assert not requests_of(old)[0].keep_alive
    kept = b"GET /?id=1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    assert requests_of(kept)[0].keep_alive


def test_leading_empty_lines_and_repeated_headers() -> None:
    wire = b"\r\n\r\nGET / HTTP/1.1\r\nX-A: 1\r\nx-a:  2 \r\nContent-Length: 3, 3\r\n\r\nabc"
    (request,) = requests_of(wire)
    assert request.headers["x-a"] == "1, 2" and request.body == b"abc"


def test_expect_100_continue() -> None:
    head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
    parser = HttpRequestParser()
    assert parser.feed(head) == []
    assert parser.take_continue() is True and parser.take_continue() is False
    (request,) = parser.feed(b"id=1")
    assert request.body == b"id=1"
    whole = HttpRequestParser()
    whole.feed(head + b"id=1")
    assert whole.take_continue() is False  # the body is already here
    assert CONTINUE_RESPONSE == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_chunk_extensions_and_trailers() -> None:
    wire = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;name=value\r\nid=\r\n2\r\n42\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    (request,) = requests_of(wire)
    assert request.body == b"id=42"


CHUNKED = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
HTTP_ERRORS: list[tuple[bytes, type[OsmandError], int]] = [
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", HeaderTooLarge, 431),
    (b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 70 + b"\r\n", HeaderTooLarge, 431),
    (b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", BodyTooLarge, 413),
    (CHUNKED + b"FFFFF\r\n", BodyTooLarge, 413),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", HttpError, 400),
    (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        TransferCodingNotImplemented,
        501,
    ),
    (b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", HttpError, 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HttpError, 400),
    (b"GET / HTTP/1.1\r\nX : 1\r\n\r\n", HttpError, 400),
    (b"GET / HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", HttpError, 400),
    (b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", HttpError, 400),
    (b"GET / HTTP/1.1\nX: 1\r\n\r\n", HttpError, 400),
    (b"GET /  HTTP/1.1\r\n\r\n", HttpError, 400),
    (b"GET / HTTP/2.0\r\n\r\n", HttpVersionNotSupported, 505),
    (b"GET / FTP/1.0\r\n\r\n", HttpError, 400),
    (CHUNKED + b"zz\r\n", HttpError, 400),
    (CHUNKED + b"1" * 300, HttpError, 400),
    (CHUNKED + b"1\r\nab\r\n", HttpError, 400),
    (CHUNKED + b"0\r\nbad trailer\r\n\r\n", HttpError, 400),
    (CHUNKED + b"0\r\nX: " + b"a" * 9000, HeaderTooLarge, 431),
]


@pytest.mark.parametrize(("wire", "error", "status"), HTTP_ERRORS)
def test_malformed_http(wire: bytes, error: type[OsmandError], status: int) -> None:
    parser = HttpRequestParser()
    with pytest.raises(error) as caught:
        parser.feed(wire)
    answer = response_for(caught.value)
    assert answer.status == status and answer.close
    assert parser.closed and parser.buffered == 0
    with pytest.raises(HttpError, match="already failed"):
        parser.feed(b"GET / HTTP/1.1\r\n\r\n")


def test_parser_bounds_are_validated() -> None:
    with pytest.raises(ValueError):
        HttpRequestParser(max_header_bytes=10)


# ---------------------------------------------------------------------------------------------
# property-based: any input gives a report or a ProtocolError, terminates, stays bounded

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
REAL_WIRE = [ANDROID_WIRE, JSON_WIRE, TOKEN_REQUEST]


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.one_of(st.binary(max_size=400), st.sampled_from(REAL_WIRE)), min_size=1, max_size=8
    ),
    st.sampled_from([(64, 0), (256, 64), (8192, 65536)]),
)
def test_parser_any_bytes(pieces: list[bytes], bounds: tuple[int, int]) -> None:
    max_header, max_body = bounds
    parser = HttpRequestParser(max_header_bytes=max_header, max_body_bytes=max_body)
    for piece in pieces:
        try:
            requests = parser.feed(piece)
        except ProtocolError:
            assert parser.closed
            return
        assert parser.buffered <= 2 * max_header + max_body + 4
        for request in requests:
            assert len(request.body) <= max_body
            try:
                report = parse_request(
                    request.method, request.target, request.headers, request.body
                )
            except ProtocolError as error:
                assert response_for(error).status >= 400
            else:
                assert response_for(report).status == 200


header_text = st.text(st.characters(codec="latin-1"), max_size=40)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["GET", "POST", "PUT", "get"]),
    st.text(max_size=300),
    st.dictionaries(
        st.sampled_from(["content-type", "Content-Type", "x"]),
        st.one_of(header_text, st.sampled_from(["application/json", "text/plain"])),
        max_size=2,
    ),
    st.one_of(st.binary(max_size=300), st.sampled_from([J_MOVING.encode(), TOKEN_BODY])),
)
def test_parse_request_any_input(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> None:
    try:
        report = parse_request(method, target, headers, body, now=NOW)
    except ProtocolError as error:
        assert isinstance(error, OsmandError)
        return
    assert report.identifier and len(report.identifier) <= 128
    if report.fix is not None:
        assert -90 <= report.fix.latitude <= 90 and -180 <= report.fix.longitude <= 180
        assert math.isfinite(report.fix.speed_kmh) and report.fix.speed_kmh >= 0
        assert 0 <= report.fix.course_deg <= 360
    json.dumps(report.attributes)  # plain, finite, JSON-able values only


NAMES = [
    "id", "deviceid", "timestamp", "lat", "lon", "location", "speed", "bearing", "heading",
    "altitude", "accuracy", "hdop", "batt", "charge", "motion", "valid", "alarm", "sat",
    "cell", "wifi", "rssi", "ignition", "batteryLevel", "notificationToken", "x",
]  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=25),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "1", "0", "-1", "sos", "1,2", "257,02,16,2224", ""]),
)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=12))
def test_any_parameters(params: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    try:
        report = query("/?" + urlencode(params))
    except OsmandError:
        return
    json.dumps(report.attributes)
    if report.fix is not None:
        assert report.fix.attributes == report.attributes


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
LOCATION_KEYS = ["timestamp", "coords", "battery", "extras", "is_moving", "odometer", "alarm"]


@PROPERTY_SETTINGS
@given(
    st.dictionaries(st.sampled_from(LOCATION_KEYS), json_values, max_size=5),
    st.dictionaries(
        st.sampled_from(["latitude", "longitude", "speed", "heading", "accuracy"]),
        json_values,
        max_size=5,
    ),
)
def test_any_json_structure(location: dict[str, object], coords: dict[str, object]) -> None:
    base = json.loads(J_MOVING)
    base["location"].update(location)
    if isinstance(base["location"].get("coords"), dict):
        base["location"]["coords"].update(coords)
    try:
        report = from_json(json.dumps(base))
    except OsmandError:
        return
    json.dumps(report.attributes)


@PROPERTY_SETTINGS
@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 400),
    st.floats(0, 360),
    st.datetimes(datetime(2001, 1, 1), datetime(2030, 1, 1)),
    st.integers(0, 100),
)
def test_plausible_inputs_round_trip(
    lat: float, lon: float, knots: float, course: float, when: datetime, battery: int
) -> None:
    seconds = int(when.replace(tzinfo=UTC).timestamp())
    target = (
        f"/?id=42&timestamp={seconds}&lat={lat!r}&lon={lon!r}&speed={knots!r}"
        f"&bearing={course!r}&batt={battery}"
    )
    report = query(target)
    fix = verify_position(report.fix, now=datetime(2030, 1, 2, tzinfo=UTC))  # type: ignore[arg-type]
    assert (fix.latitude, fix.longitude, fix.course_deg) == (lat, lon, course)
    assert fix.speed_kmh == pytest.approx(knots * KNOT)
    assert fix.fix_time == datetime.fromtimestamp(seconds, UTC)
    assert report.attributes == {"batteryLevel": battery}
    json_body = json.dumps(
        {
            "device_id": "42",
            "location": {
                "timestamp": fix.fix_time.isoformat(),
                "coords": {"latitude": lat, "longitude": lon, "speed": knots, "heading": course},
                "battery": {"level": battery / 100, "is_charging": True},
            },
        }
    )
    same = from_json(json_body)
    verify_position(same.fix, now=datetime(2030, 1, 2, tzinfo=UTC))  # type: ignore[arg-type]
    assert same.fix is not None and same.fix.speed_kmh == pytest.approx(knots * 3.6)
