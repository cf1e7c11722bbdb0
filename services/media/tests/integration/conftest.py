"""Media against the real local stack (Kafka, Cassandra, S3), with a real in-process ingest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from media.bootstrap import MediaService, bootstrap
from media.config import MediaSettings
from media.handlers import COMMAND_RESULTS, MEDIA_TOPIC
from services.ingest.tests.integration.conftest import KEY, start_ingest  # noqa: F401
from tests.integration.helpers import start_group_at_end
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.media.v1 import media_service_pb2_grpc as pb_grpc
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.erasure import ORDERS_TOPIC

REGISTRY = "identity.device-registry.v1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


async def register_owned(devices: dict[str, tuple[str, str]]) -> None:
    """identifier -> (device id, owning account), published as the identity service does."""
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
                        identifier_hmac=identifier_hmac(KEY, identifier),
                        registered_time=now,
                        owner_account_id=account,
                    ),
                    device_id,
                )
                for identifier, (device_id, account) in devices.items()
            ]
        )
    finally:
        await publisher.stop()


StartMedia = Callable[..., Coroutine[Any, Any, MediaService]]


@pytest.fixture
async def start_media() -> AsyncIterator[StartMedia]:
    """Starts media in this process on free ports, its consumer group at the topics' end."""
    running: list[tuple[MediaService, asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> MediaService:
        group = f"media-test-{uuid.uuid4().hex[:8]}"
        await start_group_at_end(KafkaSettings(), group, MEDIA_TOPIC, COMMAND_RESULTS)
        await start_group_at_end(KafkaSettings(), f"{group}-erasure", ORDERS_TOPIC)
        settings = MediaSettings(
            grpc_port=0,
            http_host="127.0.0.1",
            http_port=0,
            consumer_group=group,
            identifier_key=KEY.decode(),  # type: ignore[arg-type]
            **overrides,
        )
        service = bootstrap(settings)
        stopping = asyncio.Event()
        task = asyncio.create_task(service.run(stopping))
        running.append((service, stopping, task))
        ready = asyncio.create_task(service.ready.wait())
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert service.ready.is_set(), "media did not become ready in 60 s"
        return service

    yield start
    for _service, stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 40)


def media_stub(service: MediaService) -> tuple[grpc.aio.Channel, pb_grpc.MediaServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}")
    return channel, pb_grpc.MediaServiceStub(channel)
