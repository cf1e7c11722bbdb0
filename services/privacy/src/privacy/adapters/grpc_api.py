"""PrivacyService over gRPC, for the gateway."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from privacy.domain.erasure import InvalidErasure, UnknownSubject
from privacy.domain.plan import PARTICIPANT_STORES
from privacy.export.exporter import Exporter, InvalidExport
from privacy.handlers import Eraser, status_message
from trackstream.privacy.v1 import privacy_service_pb2 as pb
from trackstream.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from trackstream.privacy.v1.erasure_pb2 import ErasureRequested
from trackstream_auth import SigningKey, jwks_json


class PrivacyApi(pb_grpc.PrivacyServiceServicer):
    def __init__(
        self, *, eraser: Eraser, signing_key: SigningKey, exporter: Exporter | None = None
    ) -> None:
        self._eraser = eraser
        self._key = signing_key
        self._exporter = exporter

    async def RequestErasure(self, request: ErasureRequested, context: Any) -> pb.ErasureStatus:
        try:
            erasure = await self._eraser.request(request)
        except UnknownSubject as err:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(err))
        except InvalidErasure as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        return status_message(erasure, PARTICIPANT_STORES)

    async def GetErasure(self, request: pb.GetErasureRequest, context: Any) -> pb.ErasureStatus:
        erasure = await self._eraser.status(request.request_id)
        if erasure is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such erasure")
        assert erasure is not None
        return status_message(erasure, PARTICIPANT_STORES)

    async def GetCertificateKeys(
        self, request: pb.GetCertificateKeysRequest, context: Any
    ) -> pb.GetCertificateKeysResponse:
        return pb.GetCertificateKeysResponse(jwks_json=jwks_json([self._key]))

    async def RequestExport(
        self, request: pb.RequestExportRequest, context: Any
    ) -> pb.ExportStatus:
        if self._exporter is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "exports are not configured")
        assert self._exporter is not None
        try:
            return await self._exporter.request(request)
        except InvalidExport as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        raise AssertionError("unreachable")

    async def GetExport(self, request: pb.GetExportRequest, context: Any) -> pb.ExportStatus:
        if self._exporter is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "exports are not configured")
        assert self._exporter is not None
        status = await self._exporter.status(request.export_id)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such export")
        assert status is not None
        return status


async def serve_grpc(api: PrivacyApi, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_PrivacyServiceServicer_to_server(api, server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await checker.set(
        "trackstream.privacy.v1.PrivacyService", health_pb2.HealthCheckResponse.SERVING
    )
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound
