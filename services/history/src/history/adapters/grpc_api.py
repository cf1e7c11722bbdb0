"""The HistoryService gRPC API over the position store (grpc.aio)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from history.adapters.store import PositionStore
from history.domain.exports import csv_chunks, geojson_chunks, gpx_chunks
from history.domain.model import TrackPoint
from history.domain.overspeed import overspeed_segments
from history.domain.summary import daily_summary
from history.domain.trips import Stop, trips_and_stops
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1 import fix_pb2
from trackstream_events.timestamps import to_timestamp

#: the store is down or unreachable: the client gets UNAVAILABLE and retries
STORE_ERRORS = (DriverException, NoHostAvailable)
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
MAX_DEVICES = 1000
#: the longest range one track request may span
MAX_RANGE = timedelta(days=31)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def point_message(p: TrackPoint) -> pb.TrackPoint:
    fix = fix_pb2.Fix(
        fix_time=to_timestamp(p.fix_time),
        latitude=p.latitude,
        longitude=p.longitude,
        speed_kmh=p.speed_kmh,
        course_deg=p.course_deg,
        valid=p.valid,
    )
    if p.altitude_m is not None:
        fix.altitude_m = p.altitude_m
    if p.satellites is not None:
        fix.satellites = p.satellites
    message = pb.TrackPoint(
        fix=fix,
        message_serial=p.message_serial,
        address=p.address or "",
        archived=p.archived,
        flagged=p.flagged or "",
    )
    if p.received_time is not None:
        message.received_time.CopyFrom(to_timestamp(p.received_time))
    if p.ignition is not None:
        message.ignition = p.ignition
    if p.odometer_m is not None:
        message.odometer_m = p.odometer_m
    return message


def _token(p: TrackPoint) -> str:
    micros = (p.fix_time - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{p.message_serial}".encode()).decode()


def _after(token: str) -> tuple[datetime, int]:
    micros, serial = base64.urlsafe_b64decode(token.encode()).decode().split(":")
    return _EPOCH + timedelta(microseconds=int(micros)), int(serial)


class HistoryApi(pb_grpc.HistoryServiceServicer):
    def __init__(self, store: PositionStore) -> None:
        self._store = store

    async def GetTrack(self, request: pb.GetTrackRequest, context: Any) -> pb.GetTrackResponse:
        if not request.device_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id is required")
        start = request.start_time.ToDatetime(tzinfo=UTC)
        end = request.end_time.ToDatetime(tzinfo=UTC)
        if end <= start or end - start > MAX_RANGE:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"end_time must follow start_time, by at most {MAX_RANGE.days} days",
            )
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        try:
            after = _after(request.page_token) if request.page_token else None
        except (ValueError, UnicodeDecodeError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one of ours")
        try:
            points = await self._store.track(request.device_id, start, end, limit=size, after=after)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "position store unavailable, retry")
        return pb.GetTrackResponse(
            points=[point_message(p) for p in points],
            next_page_token=_token(points[-1]) if len(points) == size else "",
        )

    async def GetLastPositions(
        self, request: pb.GetLastPositionsRequest, context: Any
    ) -> pb.GetLastPositionsResponse:
        ids = list(dict.fromkeys(request.device_ids))
        if len(ids) > MAX_DEVICES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_DEVICES} devices")
        try:
            found = await self._store.last_positions(ids)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "position store unavailable, retry")
        return pb.GetLastPositionsResponse(
            positions=[
                pb.LastPosition(device_id=d, point=point_message(p)) for d, p in found.items()
            ]
        )

    # ------------------------------------------------------------------ reports

    async def _points(self, request: pb.GetReportRequest, context: Any) -> list[TrackPoint]:
        """Every stored point of the range (bounded: at most MAX_RANGE), read page by page."""
        if not request.device_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id is required")
        start = request.start_time.ToDatetime(tzinfo=UTC)
        end = request.end_time.ToDatetime(tzinfo=UTC)
        return await self._range(request.device_id, start, end, context)

    async def _range(
        self, device_id: str, start: datetime, end: datetime, context: Any
    ) -> list[TrackPoint]:
        if end <= start or end - start > MAX_RANGE:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"end_time must follow start_time, by at most {MAX_RANGE.days} days",
            )
        points: list[TrackPoint] = []
        after: tuple[datetime, int] | None = None
        try:
            while True:
                page = await self._store.track(device_id, start, end, limit=MAX_PAGE, after=after)
                points += page
                if len(page) < MAX_PAGE:
                    return points
                after = (page[-1].fix_time, page[-1].message_serial)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "position store unavailable, retry")
            raise  # abort raises; this line only tells the type checker

    async def GetTrips(self, request: pb.GetReportRequest, context: Any) -> pb.GetTripsResponse:
        found = trips_and_stops(await self._points(request, context))
        return pb.GetTripsResponse(
            trips=[
                pb.Trip(
                    start_time=to_timestamp(t.start_time),
                    end_time=to_timestamp(t.end_time),
                    start=pb.Place(
                        latitude=t.start_latitude,
                        longitude=t.start_longitude,
                        address=t.start_address or "",
                    ),
                    end=pb.Place(
                        latitude=t.end_latitude,
                        longitude=t.end_longitude,
                        address=t.end_address or "",
                    ),
                    distance_m=t.distance_m,
                    duration_s=t.duration.total_seconds(),
                    max_speed_kmh=t.max_speed_kmh,
                    average_speed_kmh=t.average_speed_kmh,
                )
                for t in found.trips
            ],
            stops=[_stop(s) for s in found.stops],
            detection=found.detection.value,
        )

    async def GetDailySummary(
        self, request: pb.GetDailySummaryRequest, context: Any
    ) -> pb.DailySummary:
        try:
            day = date.fromisoformat(request.day)
            zone = ZoneInfo(request.time_zone or "UTC")
        except (ValueError, ZoneInfoNotFoundError):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "day is YYYY-MM-DD, time_zone IANA"
            )
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        # one point on each side, so the day's edges are measured too
        points = await self._range(
            request.device_id, start - timedelta(hours=1), end + timedelta(hours=1), context
        )
        s = daily_summary(points, device_id=request.device_id, day=day, tz=zone)
        summary = pb.DailySummary(
            device_id=request.device_id,
            day=day.isoformat(),
            distance_m=s.distance_m,
            moving_s=s.moving_time.total_seconds(),
            max_speed_kmh=s.max_speed_kmh,
            trip_count=s.trip_count,
            point_count=s.point_count,
        )
        if s.engine_hours is not None:
            summary.engine_s = s.engine_hours.total_seconds()
        if s.idle_time is not None:
            summary.idle_s = s.idle_time.total_seconds()
        return summary

    async def GetOverspeeds(
        self, request: pb.GetOverspeedsRequest, context: Any
    ) -> pb.GetOverspeedsResponse:
        if request.limit_kmh <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "limit_kmh must be positive")
        segments = overspeed_segments(
            await self._points(request.range, context), limit_kmh=request.limit_kmh
        )
        return pb.GetOverspeedsResponse(
            overspeeds=[
                pb.Overspeed(
                    start_time=to_timestamp(o.start_time),
                    end_time=to_timestamp(o.end_time),
                    max_speed_kmh=o.max_speed_kmh,
                    distance_m=o.distance_m,
                    start=pb.Place(latitude=o.start_latitude, longitude=o.start_longitude),
                    end=pb.Place(latitude=o.end_latitude, longitude=o.end_longitude),
                )
                for o in segments
            ]
        )

    async def ExportTrack(
        self, request: pb.ExportTrackRequest, context: Any
    ) -> AsyncIterator[pb.ExportChunk]:
        points = await self._points(request.range, context)
        device = request.range.device_id
        if request.format == pb.EXPORT_FORMAT_GPX:
            chunks = gpx_chunks(points, name=device)
        elif request.format == pb.EXPORT_FORMAT_GEOJSON:
            chunks = geojson_chunks(points, device_id=device)
        elif request.format == pb.EXPORT_FORMAT_CSV:
            chunks = csv_chunks(points)
        else:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "format: GPX, GEOJSON or CSV")
        for chunk in chunks:
            yield pb.ExportChunk(text=chunk)


def _stop(s: Stop) -> pb.Stop:
    stop = pb.Stop(
        start_time=to_timestamp(s.start_time),
        end_time=to_timestamp(s.end_time),
        place=pb.Place(latitude=s.latitude, longitude=s.longitude, address=s.address or ""),
        duration_s=s.duration.total_seconds(),
    )
    if s.ignition_on is not None:
        stop.ignition_on = s.ignition_on
    if s.idle_duration is not None:
        stop.idle_s = s.idle_duration.total_seconds()
    return stop


async def serve_grpc(store: PositionStore, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_HistoryServiceServicer_to_server(HistoryApi(store), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    await checker.set(
        "trackstream.history.v1.HistoryService", health_pb2.HealthCheckResponse.SERVING
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound
