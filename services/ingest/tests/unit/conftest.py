"""Ingest wired by its own bootstrap with fakes (publisher, registry, media), serving real TCP
on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from ingest.adapters.directory import InMemoryDirectory
from ingest.bootstrap import IngestApp, bootstrap
from ingest.config import IngestSettings
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_testing import FakePublisher

KEY = b"unit-test-identifier-key-0123456789"


@dataclass
class FakeMedia:
    bucket: str = "trackstream-media"
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = (data, content_type)


class FixedClock:
    def __init__(self) -> None:
        self.value = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.value


@dataclass
class Harness:
    app: IngestApp
    publisher: FakePublisher
    directory: InMemoryDirectory
    media: FakeMedia
    clock: FixedClock

    def register(self, identifier: str, device_id: str) -> None:
        self.directory.apply(
            device_id,
            DeviceRegistered(device_id=device_id, identifier_hmac=identifier_hmac(KEY, identifier)),
        )

    async def connect(self, protocol: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.app.ports[protocol])

    def events(self, topic: str) -> list[object]:
        return [p.message for p in self.publisher.on(topic)]


def make_harness(**overrides: object) -> Harness:
    values: dict[str, object] = {
        "gt06_port": 0,
        "jt808_port": 0,
        "osmand_port": 0,
        "identifier_key": KEY.decode(),
        "idle_timeout_s": 5,
    }
    settings = IngestSettings(**(values | overrides))  # type: ignore[arg-type]
    publisher, directory, media, clock = (
        FakePublisher(source="/ingest"),
        InMemoryDirectory(),
        FakeMedia(),
        FixedClock(),
    )
    app = bootstrap(settings, publisher=publisher, directory=directory, media=media, clock=clock)
    return Harness(app, publisher, directory, media, clock)


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    overrides = getattr(request, "param", {})
    h = make_harness(**overrides)
    for name, server in h.app.servers.items():
        h.app.ports[name] = await server.start("127.0.0.1", 0)
    yield h
    for server in h.app.servers.values():
        await server.stop()


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    async with asyncio.timeout(5):
        return await reader.readexactly(n)


async def closed(reader: asyncio.StreamReader) -> bool:
    """True if the server closed the connection (EOF) within 5 s."""
    try:
        async with asyncio.timeout(5):
            return await reader.read() == b""
    except ConnectionResetError:
        return True
