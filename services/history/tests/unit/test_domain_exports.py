"""GPX, GeoJSON and CSV exports: parsed back with the standard library."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from history.domain.exports import (
    CSV_COLUMNS,
    csv_chunks,
    geojson_chunks,
    gpx_chunks,
    iso_utc,
    to_string,
)
from history.domain.model import TrackPoint

T0 = datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
NS = {
    "gpx": "http://www.topografix.com/GPX/1/1",
    "tpx": "http://www.garmin.com/xmlschemas/TrackPointExtension/v2",
}
TRICKY = 'Rua "A" & <B>, 12 — São João d\'Arco; 1,5 km'


def track(n: int = 5, **kw: object) -> list[TrackPoint]:
    return [
        TrackPoint(
            device_id="862000000000001",
            fix_time=T0 + timedelta(seconds=10 * i),
            latitude=41.1579 + i * 0.0012345,
            longitude=-8.6291 - i * 0.0006789,
            speed_kmh=36.0 + i,
            course_deg=350.0,
            altitude_m=85.5,
            satellites=9,
            ignition=True,
            odometer_m=1_000.0 + 100 * i,
            address=TRICKY if i == 1 else None,
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def gpx_points(document: str) -> list[ET.Element]:
    root = ET.fromstring(document.encode())
    return root.findall("gpx:trk/gpx:trkseg/gpx:trkpt", NS)


# --- GPX ---------------------------------------------------------------------------------


def test_gpx_parses_and_round_trips_the_coordinates() -> None:
    points = track()
    document = to_string(gpx_chunks(points))
    root = ET.fromstring(document.encode())
    assert root.tag == "{http://www.topografix.com/GPX/1/1}gpx"
    assert root.get("version") == "1.1"
    assert root.findtext("gpx:trk/gpx:name", namespaces=NS) == "862000000000001"
    written = gpx_points(document)
    assert len(written) == len(points)
    for element, point in zip(written, points, strict=True):
        assert float(element.get("lat", "nan")) == pytest.approx(point.latitude, abs=1e-7)
        assert float(element.get("lon", "nan")) == pytest.approx(point.longitude, abs=1e-7)
        assert element.findtext("gpx:time", namespaces=NS) == iso_utc(point.fix_time)
        assert float(element.findtext("gpx:ele", namespaces=NS) or "nan") == 85.5
        assert element.findtext("gpx:sat", namespaces=NS) == "9"
        speed = element.findtext("gpx:extensions/tpx:TrackPointExtension/tpx:speed", namespaces=NS)
        assert float(speed or "nan") == pytest.approx(point.speed_kmh / 3.6, abs=1e-3)
    assert written[0].findtext("gpx:time", namespaces=NS) == "2024-03-05T07:30:00Z"


def test_gpx_child_order_follows_the_schema() -> None:
    (element,) = gpx_points(to_string(gpx_chunks(track()[1:2])))
    order = ["ele", "time", "desc", "sat", "extensions"]
    assert [child.tag.split("}")[1] for child in element] == order


def test_gpx_escapes_the_address() -> None:
    document = to_string(gpx_chunks(track()))
    assert "&amp;" in document and "&lt;B&gt;" in document
    assert gpx_points(document)[1].findtext("gpx:desc", namespaces=NS) == TRICKY


@given(st.text())
def test_gpx_carries_any_address_it_can(address: str) -> None:
    point = track(1)[0]
    document = to_string(gpx_chunks([replace(point, address=address)], name=address))
    (element,) = gpx_points(document)
    representable = re.sub("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", address)
    assert element.findtext("gpx:desc", namespaces=NS) == representable
    root = ET.fromstring(document.encode())
    assert root.findtext("gpx:trk/gpx:name", namespaces=NS) == representable


def test_gpx_starts_a_new_segment_after_a_gap() -> None:
    first = track(3)
    later = [replace(p, fix_time=p.fix_time + timedelta(hours=2)) for p in track(2)]
    root = ET.fromstring(to_string(gpx_chunks(first + later)).encode())
    segments = root.findall("gpx:trk/gpx:trkseg", NS)
    assert [len(s) for s in segments] == [3, 2]


def test_gpx_leaves_out_unusable_points_unless_asked() -> None:
    points = track()
    points[2] = replace(points[2], flagged="speed")
    points[3] = replace(points[3], valid=False)
    assert len(gpx_points(to_string(gpx_chunks(points)))) == 3
    assert len(gpx_points(to_string(gpx_chunks(points, usable_only=False)))) == 5


def test_gpx_of_nothing_is_still_a_document() -> None:
    root = ET.fromstring(to_string(gpx_chunks([])).encode())
    assert root.findall("gpx:trk/gpx:trkseg", NS) == []


def test_gpx_longitude_180_is_written_as_minus_180() -> None:
    point = replace(track(1)[0], longitude=180.0)
    (element,) = gpx_points(to_string(gpx_chunks([point])))
    assert element.get("lon") == "-180"


# --- GeoJSON -----------------------------------------------------------------------------


def test_geojson_is_a_feature_collection_in_lon_lat_order() -> None:
    points = track()
    document = json.loads(to_string(geojson_chunks(points)))
    assert document["type"] == "FeatureCollection"
    (line,) = document["features"]
    assert line["geometry"]["type"] == "LineString"
    coordinates = line["geometry"]["coordinates"]
    assert coordinates == [
        [pytest.approx(p.longitude, abs=1e-7), pytest.approx(p.latitude, abs=1e-7)] for p in points
    ]
    assert coordinates[0][0] < 0 < coordinates[0][1]  # Porto: lon negative, lat positive
    assert line["properties"] == {
        "device_id": "862000000000001",
        "start_time": "2024-03-05T07:30:00Z",
        "end_time": "2024-03-05T07:30:40Z",
        "point_count": 5,
    }


def test_geojson_with_point_features() -> None:
    points = track()
    document = json.loads(to_string(geojson_chunks(points, with_points=True)))
    line, *point_features = document["features"]
    assert line["geometry"]["type"] == "LineString"
    assert len(point_features) == 5
    second = point_features[1]
    assert second["geometry"] == {
        "type": "Point",
        "coordinates": [pytest.approx(points[1].longitude), pytest.approx(points[1].latitude)],
    }
    assert second["properties"]["address"] == TRICKY
    assert second["properties"]["time"] == "2024-03-05T07:30:10Z"
    assert second["properties"]["ignition"] is True


def test_geojson_with_points_refuses_an_iterator() -> None:
    with pytest.raises(TypeError):
        geojson_chunks(iter(track()), with_points=True)


@pytest.mark.parametrize("n", [0, 1])
def test_geojson_line_needs_two_points(n: int) -> None:
    document = json.loads(to_string(geojson_chunks(track(n), device_id="x")))
    (line,) = document["features"]
    assert line["geometry"] is None
    assert line["properties"]["device_id"] == "x"
    assert line["properties"]["point_count"] == n


def test_geojson_streams_a_generator_once() -> None:
    consumed = []

    def points() -> Iterator[TrackPoint]:
        for p in track(3):
            consumed.append(p)
            yield p

    document = json.loads(to_string(geojson_chunks(points())))
    assert len(consumed) == 3
    assert len(document["features"][0]["geometry"]["coordinates"]) == 3


# --- CSV ---------------------------------------------------------------------------------


def test_csv_parses_with_a_header_and_the_right_rows() -> None:
    points = track()
    rows = list(csv.DictReader(io.StringIO(to_string(csv_chunks(points)), newline="")))
    assert len(rows) == 5
    assert tuple(rows[0]) == CSV_COLUMNS
    first = rows[0]
    assert first["fix_time"] == "2024-03-05T07:30:00Z"
    assert float(first["latitude"]) == pytest.approx(41.1579)
    assert float(first["longitude"]) == pytest.approx(-8.6291)
    assert first["speed_kmh"] == "36"
    assert first["ignition"] == "true"
    assert first["address"] == ""
    assert rows[1]["address"] == TRICKY
    assert rows[4]["odometer_m"] == "1400"
    assert [r["fix_time"] for r in rows] == [iso_utc(p.fix_time) for p in points]


def test_csv_uses_a_dot_and_no_exponent() -> None:
    point = replace(track(1)[0], latitude=1e-7, longitude=-0.00000001, speed_kmh=1234567.5)
    (row,) = list(csv.DictReader(io.StringIO(to_string(csv_chunks([point], usable_only=False)))))
    assert row["latitude"] == "0.0000001"
    assert row["longitude"] == "0"
    assert row["speed_kmh"] == "1234567.5"


def test_csv_defuses_formulas_in_addresses() -> None:
    point = replace(track(1)[0], address='=HYPERLINK("x")')
    (row,) = list(csv.DictReader(io.StringIO(to_string(csv_chunks([point])))))
    assert row["address"] == '\'=HYPERLINK("x")'


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_csv_carries_any_address(address: str) -> None:
    point = replace(track(1)[0], address=address)
    (row,) = list(csv.DictReader(io.StringIO(to_string(csv_chunks([point])), newline="")))
    expected = "'" + address if address.startswith(("=", "+", "-", "@", "\t", "\r")) else address
    assert row["address"] == expected


def test_chunks_are_bounded_and_join_to_the_document() -> None:
    points = track(3000)
    chunks = list(csv_chunks(points))
    assert len(chunks) > 1
    assert all(len(c) < 70_000 for c in chunks)
    assert len(list(csv.reader(io.StringIO("".join(chunks))))) == 3001
