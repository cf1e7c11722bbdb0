"""The place of an alarm from geocoding's ReverseGeocode, with a short timeout; on any failure
the coordinates stand in."""

from __future__ import annotations

import grpc

from notification.domain.templates import coordinates
from trackstream.geocoding.v1 import geocoding_service_pb2 as pb
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as pb_grpc


class Geocoder:
    def __init__(self, address: str, timeout_s: float) -> None:
        self._channel = grpc.aio.insecure_channel(address) if address else None
        self._stub = pb_grpc.GeocodingServiceStub(self._channel) if self._channel else None
        self._timeout_s = timeout_s

    async def place(self, latitude: float, longitude: float) -> str:
        fallback = coordinates(latitude, longitude)
        if self._stub is None:
            return fallback
        try:
            answer = await self._stub.ReverseGeocode(
                pb.ReverseGeocodeRequest(latitude=latitude, longitude=longitude),
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError:
            return fallback
        place = answer.place
        label = place.address_line or ", ".join(
            part for part in (place.name, place.region, place.country) if part
        )
        return f"{label} ({fallback})" if label else fallback

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
