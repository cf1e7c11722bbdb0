"""Dashcam media through the gateway on the real stack: a multi-packet JT/T 808 picture from a
simulated dashcam travels through a real in-process ingest (its identifier key the same as
identity's) into the S3 store, media catalogues it, the owner lists it and downloads it
byte-exact through the presigned URL the gateway hands out; another account gets 404 for both.
Then capture on command and deletion."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.bootstrap import IngestApp
from ingest.bootstrap import bootstrap as bootstrap_ingest
from ingest.config import IngestSettings
from services.gateway.tests.integration.conftest import (
    IDENTIFIER_KEY,
    Stack,
    bearer,
    eventually,
    login,
    started,
)
from services.media.tests.integration.conftest import dashcam_sends_picture
from tests.integration.helpers import SealedRecords, end_offsets
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream.tracking.v1 import command_pb2
from trackstream_kafka import KafkaSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")
#: 40 KiB "JPEG": some 40 JT/T 808 sub-packages
PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 160 + b"\xff\xd9"


@contextlib.asynccontextmanager
async def running_ingest() -> AsyncIterator[IngestApp]:
    """Ingest in this loop on free ports; it resolves devices with identity's key."""
    app = bootstrap_ingest(
        IngestSettings(
            gt06_port=0,
            jt808_port=0,
            osmand_port=0,
            identifier_key=IDENTIFIER_KEY,  # type: ignore[arg-type]
        )
    )
    stopping = asyncio.Event()
    task = await started(app.run(stopping), app.ready, "ingest")
    try:
        yield app
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def account(stack: Stack, client: httpx.AsyncClient, label: str) -> dict[str, str]:
    account_id, email = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label=label
    )

    async def known() -> bool:
        return account_id in stack.gateway.context.directory.accounts

    await eventually(known)
    return bearer(await login(client, email))


async def register(
    stack: Stack, client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> str:
    device = await client.post("/v1/devices", headers=headers, json=body)
    assert device.status_code == 201, device.text
    device_id: str = device.json()["device_id"]

    async def known() -> bool:
        return device_id in stack.gateway.context.directory.devices

    await eventually(known)  # on identity's registry topic: ingest reads it at start
    return device_id


def last_day() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(minutes=5)).isoformat(),
    }


async def test_a_dashcam_picture_is_listed_and_downloaded_byte_exact_only_by_its_owner(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        owner = await account(stack, client, "media-owner")
        other = await account(stack, client, "media-other")
        phone = "0" + str(uuid.uuid4().int)[:11]
        device_id = await register(stack, client, owner, identifier=phone, protocol="jt808")
        other_device = await register(
            stack, client, other, identifier="86" + str(uuid.uuid4().int)[:13], protocol="gt06"
        )
        async with running_ingest() as ingest:
            await dashcam_sends_picture(ingest.ports["jt808"], phone, PICTURE, media_id=91)
        listing: list[dict[str, Any]] = []

        async def catalogued() -> bool:
            response = await client.get(
                f"/v1/devices/{device_id}/media", headers=owner, params=last_day()
            )
            assert response.status_code == 200, response.text
            listing[:] = response.json()["media"]
            return bool(listing)

        await eventually(catalogued, within=60)
        [item] = listing
        assert item["sha256"] == hashlib.sha256(PICTURE).hexdigest()
        assert item["size_bytes"] == len(PICTURE) and item["content_type"] == "image/jpeg"
        assert item["source"] == "jt808" and item["device_id"] == device_id
        media_id = item["media_id"]
        url = await client.get(
            f"/v1/devices/{device_id}/media/{media_id}/download-url", headers=owner
        )
        assert url.status_code == 200, url.text
        assert phone not in url.json()["url"]
        async with httpx.AsyncClient() as s3:
            downloaded = await s3.get(url.json()["url"])
        assert downloaded.status_code == 200
        assert downloaded.content == PICTURE  # byte-exact

        # another account: no list, no URL, not even through its own device
        for path in (
            f"/v1/devices/{device_id}/media",
            f"/v1/devices/{device_id}/media/{media_id}/download-url",
            f"/v1/devices/{other_device}/media/{media_id}/download-url",
        ):
            refused = await client.get(path, headers=other)
            assert refused.status_code == 404, (path, refused.text)
            assert refused.json()["type"].endswith(":not-found")
        theirs = await client.get(
            f"/v1/devices/{other_device}/media", headers=other, params=last_day()
        )
        assert theirs.status_code == 200 and theirs.json()["media"] == []
        assert (
            await client.delete(f"/v1/devices/{device_id}/media/{media_id}", headers=other)
        ).status_code == 404

        # the owner deletes it: gone from the list, no URL any more
        deleted = await client.delete(f"/v1/devices/{device_id}/media/{media_id}", headers=owner)
        assert deleted.status_code == 204, deleted.text
        after = await client.get(f"/v1/devices/{device_id}/media", headers=owner, params=last_day())
        assert after.json()["media"] == []
        gone = await client.get(
            f"/v1/devices/{device_id}/media/{media_id}/download-url", headers=owner
        )
        assert gone.status_code == 404


async def commands_after(
    offsets: dict[TopicPartition, int], command_id: str
) -> command_pb2.CommandRequested:
    """The CommandRequested ``command_id`` published after ``offsets`` (bounded wait)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KafkaSettings().bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    sealed = SealedRecords()  # commands are sealed: opened as ingest opens them
    try:
        consumer.assign(list(offsets))
        for partition, offset in offsets.items():
            consumer.seek(partition, offset)
        async with asyncio.timeout(30):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    assert all(r.value is not None for r in records)
                    for command in await sealed.events(records, command_pb2.CommandRequested):
                        if command.command_id == command_id:
                            return command
    finally:
        await consumer.stop()
        sealed.close()


async def test_capture_on_command_becomes_a_0x8801_clip_command(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        owner = await account(stack, client, "capture-owner")
        device_id = await register(
            stack, client, owner, identifier="0" + str(uuid.uuid4().int)[:11], protocol="jt808"
        )
        before = await end_offsets(KafkaSettings(), "tracking.commands.v1")
        clip = await client.post(
            f"/v1/devices/{device_id}/media/capture",
            headers=owner,
            json={"kind": "video", "channel": 2, "duration_s": 12},
        )
        assert clip.status_code == 202, clip.text
        command_id = clip.json()["command_id"]
        status = await client.get(f"/v1/commands/{command_id}", headers=owner)
        assert status.status_code == 200 and status.json()["device_id"] == device_id
    # what ingest receives: take-photo with command word 0xFFFF, a 12 s clip on channel 2
    command = await commands_after(before, command_id)
    assert command.device_id == device_id
    assert command.kind == command_pb2.COMMAND_KIND_TAKE_PHOTO
    assert dict(command.parameters) == {"channel": "2", "count": "65535", "interval_s": "12"}
