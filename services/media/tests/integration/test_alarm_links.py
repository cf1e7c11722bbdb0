"""Media linked to the alarm that triggered them, on the real Kafka and Cassandra: the alarm
comes on alarm.alarms.v1 before or after a Jimi dashcam's alarm upload; either way ListMedia
by alarm finds the picture, and only through the alarm's own device."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest

from media.bootstrap import MediaService
from services.ingest.tests.integration.conftest import unique_imei
from services.media.tests.integration.conftest import (
    HEADERS,
    StartMedia,
    media_stub,
    multipart,
    register_owned,
)
from trackstream.alarm.v1 import alarm_pb2
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import EventPublisher, KafkaSettings

PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16 + b"\xff\xd9"


async def raise_alarm(alarm_id: str, device_id: str, at: datetime) -> None:
    """As the alarm service publishes it: a device's vibration alarm."""
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/alarm")
    await publisher.start()
    try:
        await publisher.publish(
            "alarm.alarms.v1",
            alarm_pb2.AlarmRaised(
                alarm_id=alarm_id,
                device_id=device_id,
                owner_account_id="acct-l",
                type=alarm_pb2.ALARM_TYPE_VIBRATION,
                origin=alarm_pb2.ALARM_ORIGIN_DEVICE,
                severity=alarm_pb2.SEVERITY_WARNING,
                alarm_time=to_timestamp(at),
            ),
            key=device_id,
        )
    finally:
        await publisher.stop()


async def upload(media: MediaService, imei: str, at: datetime, name: str) -> str:
    body = multipart(
        {"imei": imei, "alarmTime": int(at.timestamp()), "eventType": 3, "mimeType": "image/jpeg"},
        name,
        "image/jpeg",
        PICTURE + name.encode(),
    )
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"http://127.0.0.1:{media.http_port}/upload", content=body, headers=HEADERS
        )
    assert answer.status_code == 200, answer.text
    media_id: str = answer.json()["data"]
    return media_id


async def alarm_media(media: MediaService, device_id: str, alarm_id: str) -> list[str]:
    channel, stub = media_stub(media)
    try:
        response = await stub.ListMedia(pb.ListMediaRequest(device_id=device_id, alarm_id=alarm_id))
        return [o.media_id for o in response.objects]
    finally:
        await channel.close()


async def until_linked(media: MediaService, device_id: str, alarm_id: str) -> list[str]:
    """The alarm's media once there are any (bounded wait: the alarm travels through Kafka)."""
    async with asyncio.timeout(60):
        while True:
            found = await alarm_media(media, device_id, alarm_id)
            if found:
                return found
            await asyncio.sleep(0.2)


async def test_alarm_and_media_link_in_either_order(start_media: StartMedia) -> None:
    imei, device_id = unique_imei(), f"dev-l{uuid.uuid4().hex[:8]}"
    await register_owned({imei: (device_id, "acct-l")})
    media = await start_media()
    now = datetime.now(UTC).replace(microsecond=0)

    # the alarm first: media remembers it, the upload 2 s later links on arrival
    first_alarm = f"alarm-{uuid.uuid4()}"
    await raise_alarm(first_alarm, device_id, now - timedelta(minutes=10))
    async with asyncio.timeout(60):
        while True:
            if await media.app.catalogue.alarms_near(device_id, now - timedelta(minutes=11), now):
                break
            await asyncio.sleep(0.2)
    picture = await upload(media, imei, now - timedelta(minutes=10, seconds=-2), "first.jpg")
    assert await until_linked(media, device_id, first_alarm) == [picture]

    # the media first: catalogued unlinked, the alarm 3 s before it arrives later and links it
    second = await upload(media, imei, now - timedelta(minutes=2), "second.jpg")
    assert (await media.app.catalogue.get(second)).alarm_id == ""  # type: ignore[union-attr]
    second_alarm = f"alarm-{uuid.uuid4()}"
    await raise_alarm(second_alarm, device_id, now - timedelta(minutes=2, seconds=3))
    assert await until_linked(media, device_id, second_alarm) == [second]
    assert await alarm_media(media, device_id, first_alarm) == [picture]  # unchanged

    # an alarm's media only through the alarm's own device
    channel, stub = media_stub(media)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListMedia(pb.ListMediaRequest(device_id="dev-other", alarm_id=second_alarm))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()
