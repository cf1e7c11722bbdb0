"""Media routes over the gateway's real wiring (``bootstrap``), with an in-process fake
MediaService on a real gRPC channel: mapping, authorisation (404 for what the caller does not
see, 403 for what it sees but may not change), media's errors, outages."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.bootstrap import Gateway
from gateway.domain.model import DeviceEntry
from services.gateway.tests.unit.conftest import StartGateway
from trackstream.media.v1 import media_pb2
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream.media.v1 import media_service_pb2_grpc as pb_grpc

T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


def picture(media_id: str, device_id: str, *, alarm_id: str = "", at: int = T0) -> Any:
    return media_pb2.MediaObject(
        media_id=media_id,
        device_id=device_id,
        captured_time=Timestamp(seconds=at),
        media_type=1,  # type: ignore[arg-type]
        content_type="image/jpeg",
        size_bytes=1234,
        sha256="ab" * 32,
        bucket="trackstream-media",
        object_key=f"{device_id}/2026/05/28/{media_id}.jpg",
        alarm_id=alarm_id,
        source=media_pb2.MEDIA_SOURCE_JT808,
        event_code="2",
        channel=1,
        account_id="A1",
    )


@dataclass
class FakeMedia(pb_grpc.MediaServiceServicer):
    """Media's rules in miniature: objects per device, an alarm's media are its device's."""

    objects: dict[str, Any] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)
    fail: tuple[grpc.StatusCode, str] | None = None

    async def _check(self, context: Any) -> None:
        if self.fail:
            await context.abort(*self.fail)

    def _owned(self, device_id: str, media_id: str) -> Any:
        found = self.objects.get(media_id)
        return found if found is not None and found.device_id == device_id else None

    async def ListMedia(self, request: pb.ListMediaRequest, context: Any) -> Any:
        self.requests.append(request)
        await self._check(context)
        if request.alarm_id:
            found = [o for o in self.objects.values() if o.alarm_id == request.alarm_id]
            if any(o.device_id != request.device_id for o in found):
                await context.abort(grpc.StatusCode.NOT_FOUND, "no such alarm for this device")
        else:
            found = [o for o in self.objects.values() if o.device_id == request.device_id]
        found.sort(key=lambda o: o.media_id)
        start = int(request.page_token or "0")
        page = found[start : start + request.page_size]
        more = start + request.page_size < len(found)
        return pb.ListMediaResponse(
            objects=page, next_page_token=str(start + request.page_size) if more else ""
        )

    async def GetDownloadUrl(self, request: pb.GetDownloadUrlRequest, context: Any) -> Any:
        self.requests.append(request)
        await self._check(context)
        found = self._owned(request.device_id, request.media_id)
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such media for this device")
        return pb.GetDownloadUrlResponse(
            url=f"http://s3.test/{found.object_key}?X-Amz-Signature=x",
            expires_time=Timestamp(seconds=T0 + 300),
            content_type=found.content_type,
        )

    async def DeleteMedia(self, request: pb.DeleteMediaRequest, context: Any) -> Any:
        self.requests.append(request)
        await self._check(context)
        found = self._owned(request.device_id, request.media_id)
        if found is not None:
            del self.objects[request.media_id]
        return pb.DeleteMediaResponse(deleted=found is not None)

    async def RequestCapture(self, request: pb.RequestCaptureRequest, context: Any) -> Any:
        self.requests.append(request)
        await self._check(context)
        return pb.RequestCaptureResponse(command_id=f"capture-{len(self.requests)}")

    async def EraseDevice(self, request: pb.EraseDeviceRequest, context: Any) -> Any:
        raise AssertionError("the gateway never erases (the privacy service does)")


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakeMedia
    gateway: Gateway
    keys: dict[str, dict[str, str]]

    def __getitem__(self, account_id: str) -> dict[str, str]:
        return self.keys[account_id]


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(gateway_on_fake: StartGateway) -> StartApi:
    """The fake media service and a gateway (no Kafka) on it; an API key per account."""

    async def start(*, media_address: str | None = None) -> Api:
        fake = FakeMedia()
        for item in (
            picture("m1", "dA1", alarm_id="al-1"),
            picture("m2", "dA1", at=T0 + 1),
            picture("m3", "dA1", at=T0 + 2),
            picture("mB", "dB", alarm_id="al-B"),
            picture("mU", "dA1u"),
            picture("mOp", "dOp"),
        ):
            fake.objects[item.media_id] = item
        on = await gateway_on_fake(
            lambda server: pb_grpc.add_MediaServiceServicer_to_server(fake, server),
            "media_address",
            address=media_address,
        )
        on.directory.put_device(DeviceEntry("dOp", "Aop"))
        return Api(on.client, fake, on.gateway, on.keys)

    return start


def is_hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


async def test_media_of_a_device_in_pages_with_the_time_range_passed_on(
    start_api: StartApi,
) -> None:
    api = await start_api()
    params: dict[str, str | int] = {
        "from": "2026-05-28T00:00:00Z",
        "to": "2026-05-29T00:00:00Z",
        "page_size": 2,
    }
    first = await api.client.get("/v1/devices/dA1/media", headers=api["A1"], params=params)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [m["media_id"] for m in body["media"]] == ["m1", "m2"]
    assert body["media"][0] == {
        "media_id": "m1",
        "device_id": "dA1",
        "captured_time": "2026-05-28T20:26:40Z",
        "media_type": "image",
        "content_type": "image/jpeg",
        "size_bytes": 1234,
        "sha256": "ab" * 32,
        "alarm_id": "al-1",
        "command_id": None,
        "source": "jt808",
        "event_code": "2",
        "channel": 1,
    }
    assert "object_key" not in body["media"][0] and "bucket" not in body["media"][0]
    [request] = api.fake.requests
    assert request.device_id == "dA1" and request.page_size == 2
    assert request.start_time.ToJsonString() == "2026-05-28T00:00:00Z"
    assert request.end_time.ToJsonString() == "2026-05-29T00:00:00Z"
    token = body["next_page_token"]
    assert token and token != "2"  # opaque
    second = await api.client.get(
        "/v1/devices/dA1/media", headers=api["A1"], params={**params, "page_token": token}
    )
    assert [m["media_id"] for m in second.json()["media"]] == ["m3"]
    assert second.json()["next_page_token"] is None
    assert api.fake.requests[-1].page_token == "2"


async def test_listing_checks_the_device_and_the_range(start_api: StartApi) -> None:
    api = await start_api()
    assert is_hidden(await api.client.get("/v1/devices/dA1/media", headers=api["B"]))
    assert is_hidden(await api.client.get("/v1/devices/nope/media", headers=api["A1"]))
    # a distributor reads its sub-account's, the viewer its own, a share the shared device
    assert (await api.client.get("/v1/devices/dA1/media", headers=api["A"])).status_code == 200
    assert (await api.client.get("/v1/devices/dA1u/media", headers=api["A1u"])).status_code == 200
    assert (await api.client.get("/v1/devices/dB/media", headers=api["A1u"])).status_code == 200
    too_long = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    response = await api.client.get("/v1/devices/dA1/media", headers=api["A1"], params=too_long)
    assert response.status_code == 422, response.text
    bad_token = await api.client.get(
        "/v1/devices/dA1/media", headers=api["A1"], params={"page_token": "garbage"}
    )
    assert bad_token.status_code == 400, bad_token.text  # the gateway's own page tokens
    assert len(api.fake.requests) == 3  # only the allowed, valid ones reached media


async def test_media_of_an_alarm_only_through_the_alarms_device(start_api: StartApi) -> None:
    api = await start_api()
    mine = await api.client.get("/v1/devices/dA1/alarms/al-1/media", headers=api["A1"])
    assert mine.status_code == 200, mine.text
    assert [m["media_id"] for m in mine.json()["media"]] == ["m1"]
    assert api.fake.requests[-1].alarm_id == "al-1" and api.fake.requests[-1].device_id == "dA1"
    # B's alarm named through A1's own device: media says it is not this device's
    assert is_hidden(await api.client.get("/v1/devices/dA1/alarms/al-B/media", headers=api["A1"]))
    # A1's alarm through A1's device, asked by B: the device is not B's
    assert is_hidden(await api.client.get("/v1/devices/dA1/alarms/al-1/media", headers=api["B"]))


async def test_download_urls_only_for_the_devices_own_media(start_api: StartApi) -> None:
    api = await start_api()
    response = await api.client.get("/v1/devices/dA1/media/m1/download-url", headers=api["A1"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "media_id": "m1",
        "url": "http://s3.test/dA1/2026/05/28/m1.jpg?X-Amz-Signature=x",
        "expires_time": "2026-05-28T20:31:40Z",
        "content_type": "image/jpeg",
    }
    viewer = await api.client.get("/v1/devices/dA1u/media/mU/download-url", headers=api["A1u"])
    assert viewer.status_code == 200
    # B's media through A1's device, A1's media asked by B: both 404
    assert is_hidden(
        await api.client.get("/v1/devices/dA1/media/mB/download-url", headers=api["A1"])
    )
    assert is_hidden(
        await api.client.get("/v1/devices/dA1/media/m1/download-url", headers=api["B"])
    )
    too_long = "x" * 65
    assert (
        await api.client.get(f"/v1/devices/dA1/media/{too_long}/download-url", headers=api["A1"])
    ).status_code == 422


async def test_delete_needs_operator_or_admin_on_an_owned_device(start_api: StartApi) -> None:
    api = await start_api()
    viewer = await api.client.delete("/v1/devices/dA1u/media/mU", headers=api["A1u"])
    assert viewer.status_code == 403 and viewer.json()["type"].endswith(":forbidden")
    shared = await api.client.delete("/v1/devices/dB/media/mB", headers=api["A1u"])
    assert shared.status_code == 403  # a shared device is read-only
    assert is_hidden(await api.client.delete("/v1/devices/dA1/media/m1", headers=api["B"]))
    assert "mU" in api.fake.objects and "mB" in api.fake.objects and "m1" in api.fake.objects
    operator = await api.client.delete("/v1/devices/dOp/media/mOp", headers=api["Aop"])
    assert operator.status_code == 204, operator.text
    assert "mOp" not in api.fake.objects
    again = await api.client.delete("/v1/devices/dOp/media/mOp", headers=api["Aop"])
    assert is_hidden(again)
    admin = await api.client.delete("/v1/devices/dA1/media/m2", headers=api["A"])
    assert admin.status_code == 204 and "m2" not in api.fake.objects


async def test_capture_answers_202_with_the_command_id(start_api: StartApi) -> None:
    api = await start_api()
    photo = await api.client.post("/v1/devices/dA1/media/capture", headers=api["A1"], json={})
    assert photo.status_code == 202, photo.text
    command_id = photo.json()["command_id"]
    assert photo.json() == {"command_id": command_id, "device_id": "dA1", "status": "pending"}
    [request] = api.fake.requests
    assert request.kind == pb.CAPTURE_KIND_PHOTO and request.channel == 1
    assert request.duration_s == 0 and request.requested_by == "A1"
    status = await api.client.get(f"/v1/commands/{command_id}", headers=api["A1"])
    assert status.status_code == 200 and status.json()["status"] == "pending"
    clip = await api.client.post(
        "/v1/devices/dOp/media/capture",
        headers=api["Aop"],
        json={"kind": "video", "channel": 2, "duration_s": 20},
    )
    assert clip.status_code == 202, clip.text
    request = api.fake.requests[-1]
    assert request.kind == pb.CAPTURE_KIND_VIDEO
    assert (request.channel, request.duration_s, request.device_id) == (2, 20, "dOp")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "photo", "duration_s": 10},
        {"kind": "video", "duration_s": 61},
        {"kind": "video", "duration_s": 0},
        {"kind": "audio"},
        {"channel": 0},
        {"kind": "photo", "extra": 1},
    ],
)
async def test_bad_capture_requests_are_422(start_api: StartApi, body: dict[str, Any]) -> None:
    api = await start_api()
    response = await api.client.post("/v1/devices/dA1/media/capture", headers=api["A1"], json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert api.fake.requests == []


async def test_capture_is_refused_to_viewers_and_other_trees(start_api: StartApi) -> None:
    api = await start_api()
    viewer = await api.client.post("/v1/devices/dA1u/media/capture", headers=api["A1u"], json={})
    assert viewer.status_code == 403
    assert is_hidden(
        await api.client.post("/v1/devices/dA1/media/capture", headers=api["B"], json={})
    )
    assert api.fake.requests == []


async def test_media_unavailable_is_a_503_problem(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.fail = (grpc.StatusCode.UNAVAILABLE, "store down")
    response = await api.client.get("/v1/devices/dA1/media", headers=api["A1"])
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = await start_api(media_address=f"127.0.0.1:{closed_port}")
    response = await down.client.get("/v1/devices/dA1/media/m1/download-url", headers=down["A1"])
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:trackstream:problem:backend-unavailable"


async def test_unauthenticated_callers_are_refused(start_api: StartApi) -> None:
    api = await start_api()
    for method, path in (
        ("GET", "/v1/devices/dA1/media"),
        ("GET", "/v1/devices/dA1/alarms/al-1/media"),
        ("GET", "/v1/devices/dA1/media/m1/download-url"),
        ("DELETE", "/v1/devices/dA1/media/m1"),
        ("POST", "/v1/devices/dA1/media/capture"),
    ):
        assert (await api.client.request(method, path)).status_code == 401
    assert api.fake.requests == []
