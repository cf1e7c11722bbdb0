"""Dashcam media end to end on the real stack: JT/T 808 through ingest, Jimi HTTP uploads,
refusals, presigned downloads, tenant isolation and erasure."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest

from media.bootstrap import MediaService
from services.ingest.tests.integration.conftest import StartIngest, unique_imei, unique_phone
from services.media.tests.integration.conftest import (
    HEADERS,
    StartMedia,
    dashcam_sends_picture,
    media_stub,
    multipart,
    register_owned,
)
from trackstream.media.v1 import media_pb2
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream_events.timestamps import to_timestamp
from trackstream_s3 import S3Settings, make_client

PICTURE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64 + b"\xff\xd9"  # 16 KiB "JPEG"


async def listed(
    service: MediaService, device_id: str, *, expect: int
) -> list[media_pb2.MediaObject]:
    """ListMedia of the last day, until ``expect`` objects show (bounded wait)."""
    channel, stub = media_stub(service)
    now = datetime.now(UTC)
    request = pb.ListMediaRequest(
        device_id=device_id,
        start_time=to_timestamp(now - timedelta(days=1)),
        end_time=to_timestamp(now + timedelta(hours=1)),
    )
    try:
        async with asyncio.timeout(60):
            while True:
                response = await stub.ListMedia(request)
                if len(response.objects) >= expect:
                    return list(response.objects)
                await asyncio.sleep(0.2)
    finally:
        await channel.close()


async def download(service: MediaService, device_id: str, media_id: str) -> bytes:
    channel, stub = media_stub(service)
    try:
        response = await stub.GetDownloadUrl(
            pb.GetDownloadUrlRequest(device_id=device_id, media_id=media_id)
        )
    finally:
        await channel.close()
    async with httpx.AsyncClient() as client:
        got = await client.get(response.url)
    assert got.status_code == 200
    return got.content


def objects_under(prefix: str) -> list[str]:
    client = make_client(S3Settings())
    return [
        f"{o.object_name}@{o.version_id}"
        for o in client.list_objects(
            "trackstream-media", prefix=prefix, recursive=True, include_version=True
        )
    ]


async def test_a_multi_packet_jt808_picture_ends_catalogued_and_downloadable(
    start_ingest: StartIngest, start_media: StartMedia
) -> None:
    phone, device_id = unique_phone(), f"dev-m{uuid.uuid4().hex[:8]}"
    await register_owned({phone: (device_id, "acct-a")})
    ingest = await start_ingest()
    media = await start_media()
    await dashcam_sends_picture(ingest.ports["jt808"], phone, PICTURE, media_id=77)
    [stored] = await listed(media, device_id, expect=1)
    assert stored.sha256 == hashlib.sha256(PICTURE).hexdigest()
    assert stored.size_bytes == len(PICTURE) and stored.content_type == "image/jpeg"
    assert stored.account_id == "acct-a" and stored.source == media_pb2.MEDIA_SOURCE_JT808
    assert phone not in stored.object_key
    assert await download(media, device_id, stored.media_id) == PICTURE


async def test_http_upload_is_stored_catalogued_downloadable_and_isolated(
    start_media: StartMedia,
) -> None:
    imei, device_id = unique_imei(), f"dev-h{uuid.uuid4().hex[:8]}"
    await register_owned({imei: (device_id, "acct-b")})
    media = await start_media()
    body = multipart(
        {"imei": imei, "alarmTime": int(datetime.now(UTC).timestamp()), "mimeType": "image/jpeg"},
        "alarm.jpg",
        "image/jpeg",
        PICTURE,
    )
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"http://127.0.0.1:{media.http_port}/upload", content=body, headers=HEADERS
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 200
    [stored] = await listed(media, device_id, expect=1)
    assert stored.media_id == answer.json()["data"]
    assert imei not in stored.object_key
    assert await download(media, device_id, stored.media_id) == PICTURE
    # another account's device cannot get a URL for it
    channel, stub = media_stub(media)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetDownloadUrl(
                pb.GetDownloadUrlRequest(device_id="dev-someone-else", media_id=stored.media_id)
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()


async def test_refused_and_cut_off_uploads_store_nothing(start_media: StartMedia) -> None:
    imei, device_id = unique_imei(), f"dev-r{uuid.uuid4().hex[:8]}"
    await register_owned({imei: (device_id, "acct-c")})
    media = await start_media(max_upload_bytes=64 * 1024)
    url = f"http://127.0.0.1:{media.http_port}/upload"
    async with httpx.AsyncClient() as client:
        wrong = await client.post(
            url, content=multipart({"imei": imei}, "a.gif", "image/gif", b"GIF89a"), headers=HEADERS
        )
        big = await client.post(
            url,
            content=multipart({"imei": imei}, "a.jpg", "image/jpeg", b"\xff" * (128 * 1024)),
            headers=HEADERS,
        )
        unknown = await client.post(
            url,
            content=multipart({"imei": unique_imei()}, "a.jpg", "image/jpeg", PICTURE),
            headers=HEADERS,
        )
    assert wrong.status_code == 415 and "image/gif" in wrong.json()["message"]
    assert big.status_code == 413 and "limit" in big.json()["message"]
    assert unknown.status_code == 404
    # cut off half-way: the headers promise the whole body, the device sends half and hangs up
    body = multipart({"imei": imei}, "a.jpg", "image/jpeg", PICTURE)
    _reader, writer = await asyncio.open_connection("127.0.0.1", media.http_port)
    writer.write(
        (
            f"POST /upload HTTP/1.1\r\nHost: media\r\nContent-Type: {HEADERS['Content-Type']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body[: len(body) // 2]
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    # a complete upload afterwards is catalogued, alone: nothing of the cut-off one remains
    async with httpx.AsyncClient() as client:
        good = await client.post(
            url,
            content=multipart({"imei": imei}, "b.jpg", "image/jpeg", b"\xff\xd8ok\xff\xd9"),
            headers=HEADERS,
        )
    assert good.status_code == 200
    [only] = await listed(media, device_id, expect=1)
    assert only.media_id == good.json()["data"]
    assert len(objects_under(f"{device_id}/")) == 1


async def test_erase_device_leaves_no_object_version_and_no_row(start_media: StartMedia) -> None:
    imei, device_id = unique_imei(), f"dev-e{uuid.uuid4().hex[:8]}"
    await register_owned({imei: (device_id, "acct-d")})
    media = await start_media()
    url = f"http://127.0.0.1:{media.http_port}/upload"
    async with httpx.AsyncClient() as client:
        for n in range(3):
            answer = await client.post(
                url,
                content=multipart({"imei": imei}, "a.jpg", "image/jpeg", PICTURE + bytes([n])),
                headers=HEADERS,
            )
            assert answer.status_code == 200
    await listed(media, device_id, expect=3)
    assert len(objects_under(f"{device_id}/")) == 3
    channel, stub = media_stub(media)
    try:
        erased = await stub.EraseDevice(pb.EraseDeviceRequest(device_id=device_id))
        assert (erased.objects_deleted, erased.rows_deleted) == (3, 3)
        again = await stub.EraseDevice(pb.EraseDeviceRequest(device_id=device_id))
        assert (again.objects_deleted, again.rows_deleted) == (0, 0)
    finally:
        await channel.close()
    assert objects_under(f"{device_id}/") == []
    assert await listed(media, device_id, expect=0) == []
