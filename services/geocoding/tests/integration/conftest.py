"""The geocoding service against the real Kafka: started in-process on a unique consumer group
that starts at the end of the positions topic."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from geocoding.bootstrap import GeocodingApp, bootstrap
from geocoding.config import GeocodingSettings
from services.geocoding.tests.unit.conftest import offline_index
from tests.integration.helpers import start_group_at_end
from trackstream_kafka import KafkaSettings

StartGeocoding = Callable[..., Coroutine[Any, Any, GeocodingApp]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


async def read_from(
    offsets: dict[TopicPartition, int], wanted: Callable[[Any], bool], count: int, within: float
) -> list[Any]:
    """Records from ``offsets`` on that ``wanted`` accepts, until ``count`` of them or time out."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KafkaSettings().bootstrap_servers)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            consumer.seek(tp, offset)
        found: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(found) < count and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                found += [r for r in records if wanted(r)]
        return found
    finally:
        await consumer.stop()


@pytest.fixture
async def start_geocoding() -> AsyncIterator[StartGeocoding]:
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> GeocodingApp:
        group = f"geocoding-test-{uuid.uuid4().hex[:8]}"
        await start_group_at_end(KafkaSettings(), group, "tracking.positions.v1")
        values: dict[str, Any] = {"grpc_port": 0, "consumer_group": group}
        app = bootstrap(GeocodingSettings(**(values | overrides)), index=offline_index())
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        running.append((stopping, task))
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        return app

    yield start
    for stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 60)
