"""The GeocodingService gRPC API (grpc.aio), for the gateway."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from geocoding.domain.model import possible
from geocoding.handlers import place_message
from geocoding.resolver import Resolver
from trackstream.geocoding.v1 import geocoding_service_pb2 as pb
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as pb_grpc

DEFAULT_LIMIT = 10
MAX_LIMIT = 50
MAX_QUERY = 200


class GeocodingApi(pb_grpc.GeocodingServiceServicer):
    def __init__(self, resolver: Resolver) -> None:
        self._resolver = resolver

    async def ReverseGeocode(
        self, request: pb.ReverseGeocodeRequest, context: Any
    ) -> pb.ReverseGeocodeResponse:
        if not possible(request.latitude, request.longitude):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "latitude in [-90, 90], longitude in [-180, 180], finite, not (0, 0)",
            )
        place = await self._resolver.reverse(request.latitude, request.longitude)
        return pb.ReverseGeocodeResponse(place=place_message(place))

    async def SearchPlaces(
        self, request: pb.SearchPlacesRequest, context: Any
    ) -> pb.SearchPlacesResponse:
        query = request.query.strip()
        if not 2 <= len(query) <= MAX_QUERY:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"query is 2 to {MAX_QUERY} characters"
            )
        cc = request.country_code.strip()
        if cc and not (len(cc) == 2 and cc.isascii() and cc.isalpha()):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "country_code is ISO 3166-1 alpha-2 or empty"
            )
        limit = min(request.limit or DEFAULT_LIMIT, MAX_LIMIT)
        places = await self._resolver.search(query, limit=limit, country_code=cc)
        return pb.SearchPlacesResponse(places=[place_message(p) for p in places])


async def serve_grpc(resolver: Resolver, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_GeocodingServiceServicer_to_server(GeocodingApi(resolver), server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    await checker.set(
        "trackstream.geocoding.v1.GeocodingService", health_pb2.HealthCheckResponse.SERVING
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server, bound
