"""External providers over real HTTP to a local server: answers parsed and cached; a provider
that hangs or fails gets the offline answer published within the timeout and opens the breaker,
which half-opens and recovers; the rate limit is respected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from geocoding.bootstrap import GeocodingApp, bootstrap
from geocoding.config import GeocodingSettings, ProviderKind
from geocoding.domain.breaker import BreakerState
from geocoding.domain.offline import OfflineIndex
from geocoding.handlers import ADDRESSES
from services.geocoding.tests.unit.conftest import (
    FakeProvider,
    StartProvider,
    consumed,
    position,
)
from services.geocoding.tests.unit.test_domain import state
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.geocoding.v1.place_pb2 import (
    ADDRESS_SOURCE_NOMINATIM,
    ADDRESS_SOURCE_OFFLINE,
    ADDRESS_SOURCE_PHOTON,
)
from trackstream_testing import FakePublisher

NOMINATIM_KEHL = {
    "lat": "48.5725",
    "lon": "7.8150",
    "name": "",
    "display_name": "12, Hauptstraße, Kehl, Ortenaukreis, Baden-Württemberg, 77694, Deutschland",
    "address": {
        "house_number": "12",
        "road": "Hauptstraße",
        "town": "Kehl",
        "county": "Ortenaukreis",
        "state": "Baden-Württemberg",
        "postcode": "77694",
        "country": "Deutschland",
        "country_code": "de",
    },
}
PHOTON_KEHL = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [7.8150, 48.5725]},
            "properties": {
                "name": "Rathaus",
                "street": "Hauptstraße",
                "housenumber": "12",
                "postcode": "77694",
                "city": "Kehl",
                "county": "Ortenaukreis",
                "state": "Baden-Württemberg",
                "country": "Germany",
                "countrycode": "DE",
            },
        }
    ],
}
KEHL = (48.5722, 7.8153)


def ok(body: Any) -> Callable[[str, dict[str, str]], tuple[int, Any]]:
    return lambda path, query: (200, body)


@pytest.fixture
async def apps() -> AsyncIterator[Callable[..., GeocodingApp]]:
    made: list[GeocodingApp] = []

    def make(index: OfflineIndex, **settings: Any) -> GeocodingApp:
        app = bootstrap(GeocodingSettings(**settings), index=index)
        app.geocoder.publisher = FakePublisher(source="/geocoding")
        made.append(app)
        return app

    yield make
    for app in made:
        await app.publisher.stop()  # created by bootstrap, never started
        if app.http is not None:
            await app.http.aclose()


def published(app: GeocodingApp) -> list[AddressResolved]:
    publisher = app.geocoder.publisher
    assert isinstance(publisher, FakePublisher)
    return [p.message for p in publisher.on(ADDRESSES)]  # type: ignore[misc]


async def test_nominatim_answers_are_used_and_cached_by_cell(
    index: OfflineIndex, fake_provider: StartProvider, apps: Callable[..., GeocodingApp]
) -> None:
    server = await fake_provider(ok(NOMINATIM_KEHL))
    app = apps(index, provider="nominatim", provider_url=server.url, provider_max_rps=100)
    await app.geocoder.handle([consumed(position("d", *KEHL, 1))])
    [address] = published(app)
    place = address.place
    assert place.source == ADDRESS_SOURCE_NOMINATIM
    assert (place.name, place.country_code, place.street) == ("Kehl", "DE", "12 Hauptstraße")
    assert place.address_line == NOMINATIM_KEHL["display_name"]
    assert place.distance_m == pytest.approx(40, abs=5)
    [(path, query)] = server.requests
    assert path == "/reverse" and query["format"] == "jsonv2"
    assert (float(query["lat"]), float(query["lon"])) == KEHL
    assert server.user_agents == ["trackstream-geocoding/0.1 (self-hosted)"]
    # another device in the same cell: from the cache, the provider is not asked again
    await app.geocoder.handle([consumed(position("e", KEHL[0] + 0.00001, KEHL[1], 1))])
    assert published(app)[1].place.source == ADDRESS_SOURCE_NOMINATIM
    assert len(server.requests) == 1
    # on demand too
    assert (await app.resolver.reverse(*KEHL)).source.value == "nominatim"
    assert len(server.requests) == 1


async def test_photon_reverse_and_search(
    index: OfflineIndex, fake_provider: StartProvider, apps: Callable[..., GeocodingApp]
) -> None:
    server = await fake_provider(ok(PHOTON_KEHL))
    app = apps(
        index, provider="photon", provider_url=server.url, provider_max_rps=100, provider_burst=10
    )
    place = await app.resolver.reverse(*KEHL)
    assert (place.name, place.country_code, place.postcode) == ("Kehl", "DE", "77694")
    assert place.address_line == ("Rathaus, 12 Hauptstraße, 77694 Kehl, Baden-Württemberg, Germany")
    found = await app.resolver.search("kehl", limit=5, country_code="DE")
    assert [p.name for p in found] == ["Kehl"]
    assert server.requests[-1][0] == "/api" and server.requests[-1][1]["q"] == "kehl"
    # a country the provider has nothing for: the offline search answers
    assert [
        p.country_code for p in await app.resolver.search("kehl", limit=5, country_code="FR")
    ] in (
        [],
        ["FR"],
    )
    await app.geocoder.handle([consumed(position("d", *KEHL, 1))])
    assert published(app)[0].place.source == ADDRESS_SOURCE_PHOTON


async def test_a_hanging_provider_gets_the_offline_answer_in_time_and_opens_the_breaker(
    index: OfflineIndex, fake_provider: StartProvider, apps: Callable[..., GeocodingApp]
) -> None:
    server = await fake_provider(lambda path, query: "hang")
    timeout = 0.3
    app = apps(
        index,
        provider="nominatim",
        provider_url=server.url,
        provider_timeout_s=timeout,
        provider_max_rps=100,
        provider_burst=10,
        breaker_failures=2,
        breaker_reset_s=60,
    )
    for serial, point in enumerate([KEHL, (48.8566, 2.3522)], start=1):
        started = time.perf_counter()
        await app.geocoder.handle([consumed(position("d", *point, serial))])
        took = time.perf_counter() - started
        assert timeout * 0.9 <= took < timeout + 0.5, took
    out = published(app)
    assert [a.place.source for a in out] == [ADDRESS_SOURCE_OFFLINE] * 2
    assert [a.place.name for a in out] == ["Kehl", "Paris"]
    assert app.resolver.provider is not None
    assert state(app.resolver.provider.breaker) is BreakerState.OPEN
    # open: the provider is not even asked, the answer is immediate
    asked = len(server.requests)
    started = time.perf_counter()
    await app.geocoder.handle([consumed(position("d", 52.52, 13.405, 3))])
    assert time.perf_counter() - started < 0.1
    assert len(server.requests) == asked
    assert published(app)[-1].place.country_code == "DE"


async def test_a_failing_provider_opens_the_breaker_then_half_opens_and_recovers(
    index: OfflineIndex, fake_provider: StartProvider, apps: Callable[..., GeocodingApp]
) -> None:
    answer = {"status": 500}
    server = await fake_provider(
        lambda path, query: (answer["status"], NOMINATIM_KEHL if answer["status"] == 200 else {})
    )
    app = apps(
        index,
        provider="nominatim",
        provider_url=server.url,
        provider_max_rps=100,
        provider_burst=10,
        breaker_failures=3,
        breaker_reset_s=0.5,
    )
    guarded = app.resolver.provider
    assert guarded is not None
    for _ in range(3):
        place = await app.resolver.reverse(*KEHL)
        assert place.source.value == "offline" and place.name == "Kehl"
    assert state(guarded.breaker) is BreakerState.OPEN
    assert len(server.requests) == 3
    assert (await app.resolver.reverse(*KEHL)).source.value == "offline"
    assert len(server.requests) == 3  # open: not asked
    answer["status"] = 200  # the provider is back
    await asyncio.sleep(0.55)
    assert state(guarded.breaker) is BreakerState.HALF_OPEN
    place = await app.resolver.reverse(*KEHL)
    assert place.source.value == "nominatim"
    assert state(guarded.breaker) is BreakerState.CLOSED
    assert len(server.requests) == 4


async def test_the_rate_limit_is_respected(
    index: OfflineIndex, fake_provider: StartProvider, apps: Callable[..., GeocodingApp]
) -> None:
    server: FakeProvider = await fake_provider(ok(NOMINATIM_KEHL))
    app = apps(
        index,
        provider="nominatim",
        provider_url=server.url,
        provider_max_rps=0.01,
        provider_burst=1,
    )
    # ten devices in ten different cities in one batch: one request, nine offline answers
    cities = [(48.8566 + i, 2.3522 + i) for i in range(10)]
    await app.geocoder.handle([consumed(position(f"d{i}", *p, 1)) for i, p in enumerate(cities)])
    sources = [a.place.source for a in published(app)]
    assert sources.count(ADDRESS_SOURCE_NOMINATIM) == 1
    assert sources.count(ADDRESS_SOURCE_OFFLINE) == 9
    assert len(server.requests) == 1


def test_a_provider_needs_a_url() -> None:
    with pytest.raises(ValueError, match="GEOCODING_PROVIDER_URL"):
        GeocodingSettings(provider=ProviderKind.PHOTON)
    assert GeocodingSettings(provider=ProviderKind.NONE).provider.value == "none"
