"""Shared pieces of the geocoding unit tests: the real offline index (loaded once per run), a
local HTTP server that plays a provider or misbehaves, and position events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from geocoding.adapters.geonames import load_index
from geocoding.domain.offline import OfflineIndex
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_kafka import ConsumedEvent

_INDEX: OfflineIndex | None = None


def offline_index() -> OfflineIndex:
    """The real GeoNames index, loaded once per test run (about 2 s)."""
    global _INDEX
    if _INDEX is None:
        _INDEX, _ = load_index()
    return _INDEX


@pytest.fixture(scope="session")
def index() -> OfflineIndex:
    return offline_index()


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def position(
    device_id: str, latitude: float, longitude: float, serial: int, when: datetime | None = None
) -> PositionReported:
    return PositionReported(
        device_id=device_id,
        fix=Fix(
            fix_time=ts(when or datetime(2026, 11, 29, 6, 0, serial % 60, tzinfo=UTC)),
            latitude=latitude,
            longitude=longitude,
            speed_kmh=30.0,
            valid=True,
        ),
        received_time=ts(datetime.now(UTC)),
        origin=Origin(message_serial=serial),
    )


def consumed(message: PositionReported, offset: int = 0) -> ConsumedEvent:
    return ConsumedEvent(
        envelope=Envelope(
            type="trackstream.tracking.v1.PositionReported",
            source="/tests",
            subject=message.device_id,
        ),
        message=message,
        key=message.device_id,
        topic="tracking.positions.v1",
        partition=0,
        offset=offset,
    )


#: what the fake provider does with a request: (status, JSON body) or "hang"
Behaviour = Callable[[str, dict[str, str]], "tuple[int, Any] | str"]


@dataclass
class FakeProvider:
    """A local HTTP/1.1 server standing in for Nominatim or Photon; ``behaviour`` decides each
    answer (and may hang), ``requests`` records (path, query) of every request."""

    behaviour: Behaviour
    url: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                target = lines[0].split(" ")[1]
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                self.user_agents.append(headers.get("User-Agent", headers.get("user-agent", "")))
                parts = urlsplit(target)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                self.requests.append((parts.path, query))
                answer = self.behaviour(parts.path, query)
                if answer == "hang":  # until the test ends
                    await self.released.wait()
                    return
                assert not isinstance(answer, str)
                status, body = answer
                payload = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


StartProvider = Callable[[Behaviour], Awaitable[FakeProvider]]


@pytest.fixture
async def fake_provider() -> AsyncIterator[StartProvider]:
    started: list[tuple[FakeProvider, asyncio.Server]] = []

    async def start(behaviour: Behaviour) -> FakeProvider:
        provider = FakeProvider(behaviour)
        server = await asyncio.start_server(provider.handle, "127.0.0.1", 0)
        provider.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        started.append((provider, server))
        return provider

    yield start
    for provider, server in started:
        provider.released.set()
        server.close()
        await server.wait_closed()
