"""Media against the real local stack (Kafka, Cassandra, S3), with a real in-process ingest."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from media.bootstrap import MediaService, bootstrap
from media.config import MediaSettings
from media.handlers import ALARMS_TOPIC, COMMAND_RESULTS, MEDIA_TOPIC
from services.ingest.tests.integration.conftest import KEY, start_ingest  # noqa: F401
from tests.integration.helpers import start_group_at_end
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.media.v1 import media_service_pb2_grpc as pb_grpc
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.erasure import ORDERS_TOPIC
from trackstream_protocols import jt808
from trackstream_protocols.jt808 import device as jt808_device
from trackstream_protocols.model import Fix

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
        await start_group_at_end(KafkaSettings(), group, MEDIA_TOPIC, COMMAND_RESULTS, ALARMS_TOPIC)
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


def fix_now() -> Fix:
    return Fix(
        fix_time=datetime.now(UTC).replace(microsecond=0),
        latitude=41.01,
        longitude=28.97,
        speed_kmh=0.0,
        course_deg=0.0,
        valid=True,
        satellites=9,
    )


async def dashcam_sends_picture(port: int, phone: str, picture: bytes, media_id: int) -> None:
    """A JT/T 808 dashcam: register, authenticate, upload ``picture`` in sub-packages."""
    to = jt808.Jt808Address.from_phone(phone)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    splitter = jt808.Jt808FrameSplitter()

    async def reply() -> bytes:
        async with asyncio.timeout(20):
            got: list[jt808.Jt808Frame] = []
            while not got:
                data = await reader.read(4096)
                assert data, "ingest closed the connection"
                got = splitter.feed(data)
        header, body = jt808.parse_header(got[0].content)
        return struct.pack(">H", header.msg_id) + body

    writer.write(
        jt808_device.encode_register(
            to, 1, manufacturer_id="JIMI0", terminal_model="JC371", terminal_id="T000001"
        )
    )
    answer = await reply()
    auth_code = answer[5:].decode()
    writer.write(jt808_device.encode_authenticate(to, 2, auth_code=auth_code))
    assert await reply() == b"\x80\x01" + struct.pack(">HHB", 2, 0x0102, 0)
    # 0x0801 carries the 28-byte basic location block only (no additional-info items)
    location = jt808_device.location_body(fix_now())[:28]
    body = struct.pack(">IBBBB", media_id, 0, 0, 0, 1) + location
    frames = jt808.encode_frames(to, jt808.MsgId.MULTIMEDIA_DATA, 3, body + picture)
    assert len(frames) > 2, "the picture must travel in several sub-packages"
    for frame in frames:
        writer.write(frame)
    answer = await reply()
    assert answer == b"\x88\x00" + struct.pack(">IB", media_id, 0)
    writer.close()


BOUNDARY = "jimi-upload-boundary"


def multipart(callback: dict[str, object], filename: str, ctype: str, data: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="callbackBody"\r\n\r\n'
            f"{json.dumps(callback)}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
