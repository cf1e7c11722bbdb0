"""GeocodingService over a real gRPC channel (offline only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from geocoding.adapters.grpc_api import serve_grpc
from geocoding.domain.offline import OfflineIndex
from geocoding.resolver import Resolver
from trackstream.geocoding.v1 import geocoding_service_pb2 as pb
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as pb_grpc
from trackstream.geocoding.v1.place_pb2 import ADDRESS_SOURCE_OFFLINE


@pytest.fixture
async def stub(index: OfflineIndex) -> AsyncIterator[pb_grpc.GeocodingServiceStub]:
    server, port = await serve_grpc(
        Resolver(index, h3_resolution=9, cache_size=100), "127.0.0.1", 0
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.GeocodingServiceStub(channel)
    await server.stop(1)


async def test_reverse_geocode(stub: pb_grpc.GeocodingServiceStub) -> None:
    response = await stub.ReverseGeocode(
        pb.ReverseGeocodeRequest(latitude=-33.9249, longitude=18.4241)
    )
    place = response.place
    assert (place.name, place.country_code, place.country) == ("Cape Town", "ZA", "South Africa")
    assert place.source == ADDRESS_SOURCE_OFFLINE
    assert 0 < place.distance_m < 1000
    assert place.address_line == "Cape Town, Western Cape, South Africa"


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 0.0), (0.0, 0.0), (10.0, 181.0)])
async def test_reverse_geocode_refuses_impossible_points(
    stub: pb_grpc.GeocodingServiceStub, lat: float, lon: float
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReverseGeocode(pb.ReverseGeocodeRequest(latitude=lat, longitude=lon))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_search_places(stub: pb_grpc.GeocodingServiceStub) -> None:
    response = await stub.SearchPlaces(pb.SearchPlacesRequest(query="Wellington", limit=3))
    assert 1 <= len(response.places) <= 3
    assert all(p.name == "Wellington" for p in response.places)
    nz = await stub.SearchPlaces(pb.SearchPlacesRequest(query="wellington", country_code="nz"))
    assert nz.places and {p.country_code for p in nz.places} == {"NZ"}
    assert any(p.region == "Wellington" for p in nz.places)
    many = await stub.SearchPlaces(pb.SearchPlacesRequest(query="San", limit=500))
    assert len(many.places) == 50


@pytest.mark.parametrize(
    "request_",
    [
        pb.SearchPlacesRequest(query="x"),
        pb.SearchPlacesRequest(query="a" * 201),
        pb.SearchPlacesRequest(query="Paris", country_code="FRA"),
    ],
)
async def test_search_refuses_bad_requests(
    stub: pb_grpc.GeocodingServiceStub, request_: pb.SearchPlacesRequest
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SearchPlaces(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
