"""Ingest against the real local stack: real TCP in, real Kafka out (`make up` starts it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from ingest.bootstrap import IngestApp, bootstrap
from ingest.config import IngestSettings
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

KEY = b"integration-identifier-key-0123456789"
REGISTRY = "identity.device-registry.v1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def unique_imei() -> str:
    return "86" + str(uuid.uuid4().int)[:13]


def unique_phone() -> str:
    return "0" + str(uuid.uuid4().int)[:11]


async def register(devices: dict[str, str], key: bytes = KEY) -> None:
    """Publish registrations (identifier -> device id) as the identity service will."""
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        now = Timestamp()
        now.GetCurrentTime()
        await publisher.publish_many(
            [
                Outgoing(
                    REGISTRY,
                    DeviceRegistered(
                        device_id=device_id,
                        identifier_hmac=identifier_hmac(key, identifier),
                        registered_time=now,
                    ),
                    device_id,
                )
                for identifier, device_id in devices.items()
            ]
        )
    finally:
        await publisher.stop()


StartIngest = Callable[..., Coroutine[Any, Any, IngestApp]]


@pytest.fixture
async def start_ingest() -> AsyncIterator[StartIngest]:
    """Starts ingest in this process (real Kafka publisher, registry and commands) on free ports."""
    running: list[tuple[IngestApp, asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> IngestApp:
        settings = IngestSettings(
            gt06_port=0,
            jt808_port=0,
            osmand_port=0,
            identifier_key=KEY.decode(),  # type: ignore[arg-type]
            **overrides,
        )
        app = bootstrap(settings)
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        running.append((app, stopping, task))
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert app.ready.is_set(), "ingest did not become ready in 60 s"
        return app

    yield start
    for _app, stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 30)
