"""History of one device, from the history service: track (paged), trips, stops, daily summary,
overspeeds and exports. Time ranges: ``start`` < ``end``, at most 31 days."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from gateway.api.problems import Problem
from gateway.api.security import CallerDep, gateway_of
from gateway.context import GatewayContext
from gateway.domain import access, render
from gateway.domain.access import Need
from gateway.domain.model import Caller
from gateway.domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from gateway.domain.timerange import checked_range
from trackstream.history.v1 import history_service_pb2 as hpb
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1", tags=["history"])
Start = Query(description="RFC 3339; inclusive")
End = Query(description="RFC 3339; exclusive; at most 31 days after start")
EXPORT_MEDIA_TYPES = {
    "gpx": ("application/gpx+xml", hpb.EXPORT_FORMAT_GPX),
    "geojson": ("application/geo+json", hpb.EXPORT_FORMAT_GEOJSON),
    "csv": ("text/csv; charset=utf-8", hpb.EXPORT_FORMAT_CSV),
}


def report_range(
    context: GatewayContext, caller: Caller, device_id: str, start: datetime, end: datetime
) -> hpb.GetReportRequest:
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    start, end = checked_range(start, end)
    return hpb.GetReportRequest(
        device_id=device_id, start_time=to_timestamp(start), end_time=to_timestamp(end)
    )


@router.get("/devices/{device_id}/track")
async def track(
    *,
    device_id: str,
    request: Request,
    start: Annotated[datetime, Start],
    end: Annotated[datetime, End],
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> JSONResponse:
    """Positions in [start, end), oldest first, a page at a time."""
    context = gateway_of(request)
    window = report_range(context, caller, device_id, start, end)
    response = await context.history.GetTrack(
        hpb.GetTrackRequest(
            device_id=device_id,
            start_time=window.start_time,
            end_time=window.end_time,
            page_size=page_size,
            page_token=page_token,
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return JSONResponse(  # straight to JSON: no per-point re-validation of what we built
        {
            "device_id": device_id,
            "points": [render.track_point_json(p) for p in response.points],
            "next_page_token": response.next_page_token or None,
        }
    )


async def _trips(
    request: Request, caller: Caller, device_id: str, start: datetime, end: datetime
) -> hpb.GetTripsResponse:
    context = gateway_of(request)
    window = report_range(context, caller, device_id, start, end)
    response: hpb.GetTripsResponse = await context.history.GetTrips(
        window, timeout=context.settings.backend_timeout_s
    )
    return response


@router.get("/devices/{device_id}/trips")
async def trips(
    *,
    device_id: str,
    request: Request,
    start: Annotated[datetime, Start],
    end: Annotated[datetime, End],
    caller: CallerDep,
) -> dict[str, Any]:
    response = await _trips(request, caller, device_id, start, end)
    return {
        "device_id": device_id,
        "detection": response.detection,
        "trips": [render.trip_json(t) for t in response.trips],
    }


@router.get("/devices/{device_id}/stops")
async def stops(
    *,
    device_id: str,
    request: Request,
    start: Annotated[datetime, Start],
    end: Annotated[datetime, End],
    caller: CallerDep,
) -> dict[str, Any]:
    response = await _trips(request, caller, device_id, start, end)
    return {"device_id": device_id, "stops": [render.stop_json(s) for s in response.stops]}


@router.get("/devices/{device_id}/summary")
async def summary(
    *,
    device_id: str,
    request: Request,
    day: Annotated[dt.date, Query(description="YYYY-MM-DD")],
    timezone: Annotated[str, Query(min_length=1, max_length=64, description="IANA zone")] = "UTC",
    caller: CallerDep,
) -> dict[str, Any]:
    """Distance, moving and engine time, max speed and trips of one local day."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.READ, context.clock())
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(422, "timezone is not an IANA time zone", slug="invalid-argument") from None
    if not 1971 <= day.year <= 9998:
        raise Problem(422, "day must lie between 1971 and 9998", slug="invalid-argument")
    response = await context.history.GetDailySummary(
        hpb.GetDailySummaryRequest(device_id=device_id, day=day.isoformat(), time_zone=timezone),
        timeout=context.settings.backend_timeout_s,
    )
    return render.summary_json(response)


@router.get("/devices/{device_id}/overspeeds")
async def overspeeds(
    *,
    device_id: str,
    request: Request,
    start: Annotated[datetime, Start],
    end: Annotated[datetime, End],
    limit_kmh: Annotated[float, Query(gt=0, le=400)],
    caller: CallerDep,
) -> dict[str, Any]:
    context = gateway_of(request)
    window = report_range(context, caller, device_id, start, end)
    response = await context.history.GetOverspeeds(
        hpb.GetOverspeedsRequest(range=window, limit_kmh=limit_kmh),
        timeout=context.settings.backend_timeout_s,
    )
    return {
        "device_id": device_id,
        "limit_kmh": limit_kmh,
        "overspeeds": [render.overspeed_json(o) for o in response.overspeeds],
    }


@router.get(
    "/devices/{device_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/gpx+xml": {},
                "application/geo+json": {},
                "text/csv": {},
            }
        }
    },
)
async def export(
    *,
    device_id: str,
    request: Request,
    start: Annotated[datetime, Start],
    end: Annotated[datetime, End],
    format: Annotated[Literal["gpx", "geojson", "csv"], Query()] = "geojson",
    caller: CallerDep,
) -> StreamingResponse:
    """The track as GPX, GeoJSON or CSV, streamed."""
    context = gateway_of(request)
    window = report_range(context, caller, device_id, start, end)
    media_type, proto_format = EXPORT_MEDIA_TYPES[format]
    call = context.history.ExportTrack(
        hpb.ExportTrackRequest(range=window, format=proto_format),
        timeout=max(context.settings.backend_timeout_s, 60.0),
    )
    chunks = call.__aiter__()
    # the first chunk before answering: a backend error is still a problem response, not a
    # stream that breaks off
    try:
        first: hpb.ExportChunk | None = await chunks.__anext__()
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        if first is not None:
            yield first.text.encode()
            async for chunk in chunks:
                yield chunk.text.encode()

    filename = f"track-{device_id[:40]}.{format}"
    return StreamingResponse(
        body(),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
