"""The HistoryService gRPC API over the position store (grpc.aio)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from history.adapters.store import PositionStore
from history.domain.model import TrackPoint
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1 import fix_pb2

#: the store is down or unreachable: the client gets UNAVAILABLE and retries
STORE_ERRORS = (DriverException, NoHostAvailable)
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
MAX_DEVICES = 1000
#: the longest range one track request may span
MAX_RANGE = timedelta(days=31)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(when: datetime) -> Any:
    from google.protobuf.timestamp_pb2 import Timestamp

    micros = (when - _EPOCH) // timedelta(microseconds=1)
    return Timestamp(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000)


def point_message(p: TrackPoint) -> pb.TrackPoint:
    fix = fix_pb2.Fix(
        fix_time=_timestamp(p.fix_time),
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
        message.received_time.CopyFrom(_timestamp(p.received_time))
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
