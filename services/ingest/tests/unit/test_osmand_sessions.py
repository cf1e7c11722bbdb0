"""Phones (OsmAnd / Traccar Client protocol) over real HTTP against ingest wired with fakes."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.ingest.tests.unit.conftest import Harness
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import PublishError

PHONE_ID = "812645"


async def exchange(harness: Harness, *requests: bytes) -> list[tuple[int, bytes]]:
    """Send requests on one connection; return (status, body) of each answer."""
    reader, writer = await harness.connect("osmand")
    answers = []
    try:
        for request in requests:
            writer.write(request)
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split()[1])
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                answers.append((status, await reader.readexactly(length)))
    finally:
        writer.close()
    return answers


def get(query: str) -> bytes:
    return f"GET /?{query} HTTP/1.1\r\nHost: ingest\r\n\r\n".encode()


async def test_query_form_positions_are_published_before_200(harness: Harness) -> None:
    harness.register(PHONE_ID, "phone-1")
    answers = await exchange(
        harness,
        get(
            f"id={PHONE_ID}&timestamp=1764400000&lat=41.0082&lon=28.9784&speed=10&bearing=90&batt=77"
        ),
        get(f"id={PHONE_ID}&timestamp=1764400010&lat=41.0090&lon=28.9790&speed=12"),
    )
    assert [status for status, _ in answers] == [200, 200]
    positions = harness.events("tracking.positions.v1")
    assert [round(p.fix.latitude, 4) for p in positions] == [41.0082, 41.009]  # type: ignore[attr-defined]
    first = positions[0]
    assert isinstance(first, PositionReported)
    assert first.device_id == "phone-1" and first.origin.protocol == 3
    assert first.fix.speed_kmh == pytest.approx(18.52)  # 10 knots
    assert first.battery_percent == 77
    # phones have no sessions: no DeviceConnected for HTTP requests
    assert harness.events("tracking.device-sessions.v1") == []


async def test_json_form_from_traccar_client(harness: Harness) -> None:
    harness.register(PHONE_ID, "phone-1")
    body = json.dumps(
        {
            "device_id": PHONE_ID,
            "location": {
                "timestamp": "2025-11-29T07:06:40.000Z",
                "coords": {"latitude": 41.01, "longitude": 28.97, "speed": 5, "heading": 10},
                "battery": {"level": 0.5, "is_charging": False},
                "is_moving": True,
            },
        }
    ).encode()
    request = (
        b"POST / HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    [(status, _)] = await exchange(harness, request)
    assert status == 200
    [position] = harness.events("tracking.positions.v1")
    assert position.fix.speed_kmh == pytest.approx(18.0)  # type: ignore[attr-defined]


async def test_unknown_phone_gets_404_and_bad_input_400(harness: Harness) -> None:
    answers = await exchange(
        harness,
        get("id=999999&timestamp=1764400000&lat=41.0&lon=28.9"),
        get(f"id={PHONE_ID}&timestamp=1764400000&lat=141.0&lon=28.9"),
    )
    assert [status for status, _ in answers] == [404, 400]
    assert harness.events("tracking.positions.v1") == []


async def test_a_failed_publish_answers_503_so_the_phone_keeps_the_location(
    harness: Harness,
) -> None:
    harness.register(PHONE_ID, "phone-1")
    harness.publisher.fail_next = PublishError("broker gone")
    [(status, _)] = await exchange(
        harness, get(f"id={PHONE_ID}&timestamp=1764400000&lat=41&lon=29")
    )
    assert status == 503
    assert harness.events("tracking.positions.v1") == []
