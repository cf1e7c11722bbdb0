"""The MediaService gRPC API (grpc.aio) over the media application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from minio.error import S3Error

from media.domain.capture import DEFAULT_CLIP_S, MAX_CLIP_S
from media.handlers import MediaApp, media_object
from trackstream.media.v1 import media_service_pb2 as pb
from trackstream.media.v1 import media_service_pb2_grpc as pb_grpc
from trackstream_events.timestamps import to_timestamp
from trackstream_s3 import S3PutFailed

STORE_ERRORS = (DriverException, NoHostAvailable, S3Error, S3PutFailed)
DEFAULT_PAGE = 100
MAX_PAGE = 1000


class MediaApi(pb_grpc.MediaServiceServicer):
    def __init__(self, app: MediaApp) -> None:
        self.app = app

    async def ListMedia(self, request: pb.ListMediaRequest, context: Any) -> pb.ListMediaResponse:
        if not request.device_id and not request.alarm_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id or alarm_id needed")
        limit = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        after = request.page_token or None
        try:
            if request.alarm_id:
                records, token = await self.app.catalogue.list_by_alarm(
                    request.alarm_id, limit, after
                )
                # an alarm's media are all of the alarm's device (the linking rule): one of
                # another device means the alarm is not this device's
                if request.device_id and any(r.device_id != request.device_id for r in records):
                    await context.abort(grpc.StatusCode.NOT_FOUND, "no such alarm for this device")
            else:
                if not request.HasField("start_time") or not request.HasField("end_time"):
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "start_time and end_time needed"
                    )
                start = request.start_time.ToDatetime(tzinfo=UTC)
                end = request.end_time.ToDatetime(tzinfo=UTC)
                if end <= start:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "end_time must be after start_time"
                    )
                records, token = await self.app.catalogue.list_by_device(
                    request.device_id, start, end, limit, after
                )
        except ValueError as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the media catalogue is unavailable")
        return pb.ListMediaResponse(
            objects=[media_object(r) for r in records], next_page_token=token or ""
        )

    async def GetDownloadUrl(
        self, request: pb.GetDownloadUrlRequest, context: Any
    ) -> pb.GetDownloadUrlResponse:
        try:
            found = await self.app.download_url(request.device_id, request.media_id)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the media store is unavailable")
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such media for this device")
            raise AssertionError("abort raises")
        record, url = found
        expires = datetime.now(UTC) + timedelta(seconds=self.app.download_url_ttl_s)
        return pb.GetDownloadUrlResponse(
            url=url, expires_time=to_timestamp(expires), content_type=record.content_type
        )

    async def DeleteMedia(
        self, request: pb.DeleteMediaRequest, context: Any
    ) -> pb.DeleteMediaResponse:
        try:
            deleted = await self.app.delete(request.device_id, request.media_id)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the media store is unavailable")
        return pb.DeleteMediaResponse(deleted=deleted)

    async def RequestCapture(
        self, request: pb.RequestCaptureRequest, context: Any
    ) -> pb.RequestCaptureResponse:
        if not request.device_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id needed")
        clip_s: int | None = None
        if request.kind == pb.CAPTURE_KIND_VIDEO:
            clip_s = request.duration_s or DEFAULT_CLIP_S
            if clip_s > MAX_CLIP_S:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"duration_s is at most {MAX_CLIP_S}"
                )
        elif request.duration_s:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "duration_s is for clips")
        command_id = await self.app.request_capture(
            request.device_id,
            channel=request.channel,
            requested_by=request.requested_by,
            now=datetime.now(UTC),
            clip_s=clip_s,
        )
        return pb.RequestCaptureResponse(command_id=command_id)

    async def EraseDevice(
        self, request: pb.EraseDeviceRequest, context: Any
    ) -> pb.EraseDeviceResponse:
        if not request.device_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "device_id needed")
        try:
            objects, rows = await self.app.erase_device(request.device_id)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the media store is unavailable")
        return pb.EraseDeviceResponse(objects_deleted=objects, rows_deleted=rows)


async def serve_grpc(app: MediaApp, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_MediaServiceServicer_to_server(MediaApi(app), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    await checker.set("trackstream.media.v1.MediaService", health_pb2.HealthCheckResponse.SERVING)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound
