"""Dashcam media, from the media service: a device's pictures and clips by time or by alarm,
short-lived presigned download URLs, deletion, and capture on command.

Every route names the device first and the gateway authorises it (404 for a device the caller
does not see), then asks media, which checks that the object or the alarm's media belong to
that device (NOT_FOUND, answered 404 too). Reading needs any role on a visible device; deleting
and capturing need OPERATOR or ADMIN on a device the caller's subtree owns (a shared device is
read-only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field, model_validator

from gateway.api.problems import not_found
from gateway.api.schemas import Strict
from gateway.api.security import CallerDep, gateway_of
from gateway.context import GatewayContext
from gateway.domain import access, render
from gateway.domain.access import Need
from gateway.domain.commands import CommandState
from gateway.domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_token, encode_token
from gateway.domain.timerange import checked_range
from trackstream.media.v1 import media_pb2
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1")
DEFAULT_MEDIA_WINDOW = timedelta(days=1)
#: clip length a capture may ask for (the media service's own cap)
MAX_CLIP_S = 60
#: media ids are UUIDs, alarm ids too; anything longer is nobody's
ItemId = Annotated[str, Path(max_length=64)]

_MEDIA_TYPES = {1: "image", 2: "audio", 3: "video"}
_SOURCES = {
    media_pb2.MEDIA_SOURCE_JT808: "jt808",
    media_pb2.MEDIA_SOURCE_JIMI_HTTP: "jimi_http",
}
_CAPTURE_KINDS = {"photo": pb.CAPTURE_KIND_PHOTO, "video": pb.CAPTURE_KIND_VIDEO}


class CaptureCreate(Strict):
    kind: Literal["photo", "video"] = "photo"
    #: camera channel (1 = the road camera on most dashcams)
    channel: int = Field(default=1, ge=1, le=255)
    #: clip length in seconds (video only)
    duration_s: int | None = Field(default=None, ge=1, le=MAX_CLIP_S)

    @model_validator(mode="after")
    def _duration_for_clips(self) -> CaptureCreate:
        if self.kind == "photo" and self.duration_s is not None:
            raise ValueError("duration_s is for clips (kind video)")
        return self


def media_json(item: media_pb2.MediaObject) -> dict[str, Any]:
    """What clients see of a catalogued object (not where it is stored)."""
    return {
        "media_id": item.media_id,
        "device_id": item.device_id,
        "captured_time": render.iso(item.captured_time),
        "media_type": _MEDIA_TYPES.get(item.media_type, "unspecified"),
        "content_type": item.content_type,
        "size_bytes": item.size_bytes,
        "sha256": item.sha256,
        "alarm_id": item.alarm_id or None,
        "command_id": item.command_id or None,
        "source": _SOURCES.get(item.source, "unspecified"),
        "event_code": item.event_code,
        "channel": item.channel,
    }


async def _listing(
    context: GatewayContext, device_id: str, request: pb.ListMediaRequest, kind: str
) -> dict[str, Any]:
    response = await context.media.ListMedia(request, timeout=context.settings.backend_timeout_s)
    return {
        "device_id": device_id,
        "media": [media_json(m) for m in response.objects],
        "next_page_token": (
            encode_token(kind, response.next_page_token) if response.next_page_token else None
        ),
    }


@router.get("/devices/{device_id}/media", tags=["media"])
async def list_media(
    *,
    device_id: str,
    request: Request,
    from_: Annotated[
        datetime | None, Query(alias="from", description="RFC 3339; inclusive; default to - 1 day")
    ] = None,
    to: Annotated[
        datetime | None,
        Query(description="RFC 3339; exclusive; default now; at most 31 days after from"),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The device's pictures and clips captured in [from, to), newest first, a page at a time."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    end = to or context.clock()
    start, end = checked_range(from_ or end - DEFAULT_MEDIA_WINDOW, end)
    message = pb.ListMediaRequest(
        device_id=device_id,
        start_time=to_timestamp(start),
        end_time=to_timestamp(end),
        page_size=page_size,
        page_token=decode_token("media", page_token) if page_token else "",
    )
    return await _listing(context, device_id, message, "media")


@router.get("/devices/{device_id}/alarms/{alarm_id}/media", tags=["media"])
async def list_alarm_media(
    *,
    device_id: str,
    alarm_id: ItemId,
    request: Request,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The pictures and clips linked to one alarm of the device, newest first. 404 when the
    alarm's media belong to another device."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    message = pb.ListMediaRequest(
        device_id=device_id,
        alarm_id=alarm_id,
        page_size=page_size,
        page_token=decode_token("alarm-media", page_token) if page_token else "",
    )
    return await _listing(context, device_id, message, "alarm-media")


@router.get("/devices/{device_id}/media/{media_id}/download-url", tags=["media"])
async def media_download_url(
    *, device_id: str, media_id: ItemId, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """A presigned GET URL of the object straight from the store, valid a few minutes."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    found = await context.media.GetDownloadUrl(
        pb.GetDownloadUrlRequest(device_id=device_id, media_id=media_id),
        timeout=context.settings.backend_timeout_s,
    )
    return {
        "media_id": media_id,
        "url": found.url,
        "expires_time": render.iso(found.expires_time),
        "content_type": found.content_type,
    }


@router.delete("/devices/{device_id}/media/{media_id}", tags=["media"], status_code=204)
async def delete_media(
    *, device_id: str, media_id: ItemId, request: Request, caller: CallerDep
) -> Response:
    """Delete the object and its catalogue rows (OPERATOR or ADMIN)."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.COMMAND, context.clock())
    deleted = await context.media.DeleteMedia(
        pb.DeleteMediaRequest(device_id=device_id, media_id=media_id),
        timeout=context.settings.backend_timeout_s,
    )
    if not deleted.deleted:
        raise not_found("media")
    return Response(status_code=204)


@router.post("/devices/{device_id}/media/capture", tags=["media"], status_code=202)
async def capture_media(
    *, device_id: str, body: CaptureCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Ask the dashcam for a photo or a clip now (OPERATOR or ADMIN). The upload that answers
    it is listed with this ``command_id``; ``/v1/commands/{command_id}`` follows delivery."""
    context = gateway_of(request)
    now = context.clock()
    access.check_device(context.directory, caller, device_id, Need.COMMAND, now)
    response = await context.media.RequestCapture(
        pb.RequestCaptureRequest(
            device_id=device_id,
            kind=_CAPTURE_KINDS[body.kind],
            channel=body.channel,
            duration_s=body.duration_s or 0,
            requested_by=caller.account_id,
        ),
        timeout=context.settings.backend_timeout_s,
    )
    context.commands.record(CommandState(response.command_id, device_id, "pending", now))
    return {"command_id": response.command_id, "device_id": device_id, "status": "pending"}
