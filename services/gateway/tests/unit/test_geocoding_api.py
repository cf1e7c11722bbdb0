"""The geocoding endpoints over the gateway's real wiring (``bootstrap``), with an in-process
fake GeocodingService on a real gRPC channel: mapping, validation, outages, rate limits."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest

from gateway.bootstrap import Gateway
from services.gateway.tests.unit.conftest import StartGateway
from trackstream.geocoding.v1 import geocoding_service_pb2 as gpb
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as gpb_grpc
from trackstream.geocoding.v1 import place_pb2

STRASBOURG = place_pb2.Place(
    name="Strasbourg",
    region="Grand Est",
    subregion="Bas-Rhin",
    country="France",
    country_code="FR",
    latitude=48.58392,
    longitude=7.74553,
    distance_m=1290.5,
    address_line="Strasbourg, Grand Est, France",
    source=place_pb2.ADDRESS_SOURCE_OFFLINE,
)


@dataclass
class FakeGeocoding(gpb_grpc.GeocodingServiceServicer):
    """Records the requests; answers Strasbourg, or fails with ``fail`` when set."""

    reverse_requests: list[gpb.ReverseGeocodeRequest] = field(default_factory=list)
    search_requests: list[gpb.SearchPlacesRequest] = field(default_factory=list)
    fail: tuple[grpc.StatusCode, str] | None = None

    async def ReverseGeocode(
        self, request: gpb.ReverseGeocodeRequest, context: Any
    ) -> gpb.ReverseGeocodeResponse:
        self.reverse_requests.append(request)
        if self.fail:
            await context.abort(*self.fail)
        return gpb.ReverseGeocodeResponse(place=STRASBOURG)

    async def SearchPlaces(
        self, request: gpb.SearchPlacesRequest, context: Any
    ) -> gpb.SearchPlacesResponse:
        self.search_requests.append(request)
        if self.fail:
            await context.abort(*self.fail)
        second = place_pb2.Place()
        second.CopyFrom(STRASBOURG)
        second.name, second.country_code, second.distance_m = "Strasburg", "US", 0.0
        return gpb.SearchPlacesResponse(places=[STRASBOURG, second][: request.limit])


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakeGeocoding
    headers: dict[str, str]
    gateway: Gateway


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(gateway_on_fake: StartGateway) -> StartApi:
    """Starts the fake service and a gateway (no Kafka) on it; a read-only API key of A1."""

    async def start(*, geocoding_address: str | None = None, **settings: Any) -> Api:
        fake = FakeGeocoding()
        on = await gateway_on_fake(
            lambda server: gpb_grpc.add_GeocodingServiceServicer_to_server(fake, server),
            "geocoding_address",
            address=geocoding_address,
            key_holders=(("A1", "A1", True),),
            **settings,
        )
        return Api(on.client, fake, on.keys["A1"], on.gateway)

    return start


async def test_reverse_geocode_answers_the_place(start_api: StartApi) -> None:
    api = await start_api()
    response = await api.client.get(
        "/v1/geocode/reverse",
        params={"latitude": 48.5734, "longitude": 7.7521},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "Strasbourg",
        "address_line": "Strasbourg, Grand Est, France",
        "street": None,
        "postcode": None,
        "subregion": "Bas-Rhin",
        "region": "Grand Est",
        "country": "France",
        "country_code": "FR",
        "latitude": 48.58392,
        "longitude": 7.74553,
        "distance_m": 1290.5,
        "source": "offline",
    }
    assert [(r.latitude, r.longitude) for r in api.fake.reverse_requests] == [(48.5734, 7.7521)]
    assert "RateLimit-Remaining" in response.headers


async def test_search_places_passes_query_limit_and_country(start_api: StartApi) -> None:
    api = await start_api()
    response = await api.client.get(
        "/v1/places",
        params={"q": "  Strasbourg ", "limit": 2, "country": "fr"},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    places = response.json()["places"]
    assert [(p["name"], p["country_code"]) for p in places] == [
        ("Strasbourg", "FR"),
        ("Strasburg", "US"),
    ]
    (sent,) = api.fake.search_requests
    assert (sent.query, sent.limit, sent.country_code) == ("Strasbourg", 2, "FR")
    default = await api.client.get("/v1/places", params={"q": "Kehl"}, headers=api.headers)
    assert default.status_code == 200
    assert (api.fake.search_requests[-1].limit, api.fake.search_requests[-1].country_code) == (
        10,
        "",
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/geocode/reverse", {"latitude": 90.5, "longitude": 0}),
        ("/v1/geocode/reverse", {"latitude": -91, "longitude": 0}),
        ("/v1/geocode/reverse", {"latitude": 10, "longitude": 180.01}),
        ("/v1/geocode/reverse", {"latitude": 10, "longitude": -181}),
        ("/v1/geocode/reverse", {"latitude": "nan", "longitude": 7}),
        ("/v1/geocode/reverse", {"latitude": 48, "longitude": "inf"}),
        ("/v1/geocode/reverse", {"latitude": "north", "longitude": 7}),
        ("/v1/geocode/reverse", {"latitude": 48}),
        ("/v1/places", {}),
        ("/v1/places", {"q": ""}),
        ("/v1/places", {"q": "x"}),
        ("/v1/places", {"q": "    "}),
        ("/v1/places", {"q": "a" * 201}),
        ("/v1/places", {"q": "Paris", "limit": 0}),
        ("/v1/places", {"q": "Paris", "limit": 51}),
        ("/v1/places", {"q": "Paris", "country": "FRA"}),
        ("/v1/places", {"q": "Paris", "country": "1F"}),
    ],
)
async def test_invalid_input_is_a_422_problem_and_never_reaches_geocoding(
    start_api: StartApi, path: str, params: dict[str, Any]
) -> None:
    api = await start_api()
    response = await api.client.get(path, params=params, headers=api.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert "north" not in response.text  # never the rejected input
    assert api.fake.reverse_requests == [] and api.fake.search_requests == []


async def test_the_bounds_themselves_are_valid(start_api: StartApi) -> None:
    api = await start_api()
    for lat, lon in ((90, 180), (-90, -180)):
        response = await api.client.get(
            "/v1/geocode/reverse", params={"latitude": lat, "longitude": lon}, headers=api.headers
        )
        assert response.status_code == 200, response.text
    bounds: list[dict[str, str | int]] = [{"q": "ab", "limit": 1}, {"q": "a" * 200, "limit": 50}]
    for params in bounds:
        response = await api.client.get("/v1/places", params=params, headers=api.headers)
        assert response.status_code == 200, response.text


async def test_geocoding_refusing_a_point_is_a_422_problem(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.fail = (grpc.StatusCode.INVALID_ARGUMENT, "not (0, 0)")
    response = await api.client.get(
        "/v1/geocode/reverse", params={"latitude": 0, "longitude": 0}, headers=api.headers
    )
    assert response.status_code == 422
    assert response.json()["type"] == "urn:trackstream:problem:invalid-argument"


@pytest.mark.parametrize("path", ["/v1/geocode/reverse", "/v1/places"])
async def test_geocoding_unavailable_is_a_503_problem(start_api: StartApi, path: str) -> None:
    params: dict[str, float | str] = {"latitude": 48.5, "longitude": 7.7, "q": "Strasbourg"}
    api = await start_api()
    api.fake.fail = (grpc.StatusCode.UNAVAILABLE, "loading")
    response = await api.client.get(path, params=params, headers=api.headers)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"] == "urn:trackstream:problem:backend-unavailable"
    # nobody listening at all: the same answer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = await start_api(geocoding_address=f"127.0.0.1:{closed_port}")
    response = await down.client.get(path, params=params, headers=down.headers)
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:trackstream:problem:backend-unavailable"


@pytest.mark.parametrize("path", ["/v1/geocode/reverse", "/v1/places"])
async def test_an_unauthenticated_caller_is_refused(start_api: StartApi, path: str) -> None:
    api = await start_api()
    params: dict[str, float | str] = {"latitude": 48.5, "longitude": 7.7, "q": "Strasbourg"}
    assert (await api.client.get(path, params=params)).status_code == 401
    wrong = {"X-API-Key": "tsk_" + "0" * 32 + "_" + "x" * 43}
    assert (await api.client.get(path, params=params, headers=wrong)).status_code == 401
    assert api.fake.reverse_requests == [] and api.fake.search_requests == []


async def test_lookups_are_rate_limited_per_credential(start_api: StartApi) -> None:
    api = await start_api(rate_per_s=0.01, rate_burst=2)
    params: dict[str, float | str] = {"latitude": 48.5, "longitude": 7.7}
    for _ in range(2):
        ok = await api.client.get("/v1/geocode/reverse", params=params, headers=api.headers)
        assert ok.status_code == 200
    refused = await api.client.get("/v1/places", params={"q": "Kehl"}, headers=api.headers)
    assert refused.status_code == 429
    assert refused.json()["type"] == "urn:trackstream:problem:rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert api.fake.search_requests == []
