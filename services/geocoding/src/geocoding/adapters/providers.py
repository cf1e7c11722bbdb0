"""External geocoders over HTTP (httpx): Nominatim-compatible (``/reverse?format=jsonv2``,
``/search``) and Photon-compatible (``/reverse``, ``/api``). A non-2xx status or an unreadable
body raises :class:`~geocoding.ports.ProviderError` (the guard counts it as a failure); "no
result" is ``None`` or ``[]``."""

from __future__ import annotations

from typing import Any

import httpx

from geocoding.domain.model import Place, Source, address_line, distance_m
from geocoding.ports import ProviderError

#: Nominatim address keys naming the locality, most specific first
_LOCALITY = ("city", "town", "village", "municipality", "hamlet", "suburb", "county")


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ProviderError(f"not a coordinate: {value!r}") from None


def _street(road: str, number: str) -> str:
    return f"{number} {road}".strip() if road else ""


def nominatim_place(data: dict[str, Any], latitude: float | None, longitude: float | None) -> Place:
    """A Nominatim ``jsonv2`` result (with ``addressdetails``) as a place."""
    address: dict[str, str] = data.get("address") or {}
    lat, lon = _float(data.get("lat")), _float(data.get("lon"))
    name = next((address[k] for k in _LOCALITY if address.get(k)), "") or data.get("name") or ""
    return Place(
        name=name,
        region=address.get("state", ""),
        subregion=address.get("county", "") or address.get("state_district", ""),
        country=address.get("country", ""),
        country_code=address.get("country_code", "").upper(),
        latitude=lat,
        longitude=lon,
        distance_m=0.0
        if latitude is None or longitude is None
        else distance_m(latitude, longitude, lat, lon),
        address_line=data.get("display_name") or address_line(name, address.get("country", "")),
        source=Source.NOMINATIM,
        street=_street(address.get("road", ""), address.get("house_number", "")),
        postcode=address.get("postcode", ""),
    )


def photon_place(feature: dict[str, Any], latitude: float | None, longitude: float | None) -> Place:
    """A Photon GeoJSON feature as a place."""
    props: dict[str, Any] = feature.get("properties") or {}
    try:
        lon, lat = (_float(c) for c in feature["geometry"]["coordinates"][:2])
    except (KeyError, TypeError, ValueError) as err:
        raise ProviderError(f"feature without coordinates: {err}") from None
    name = props.get("city") or props.get("name") or props.get("county") or ""
    street = _street(props.get("street", ""), props.get("housenumber", ""))
    country = props.get("country", "")
    return Place(
        name=name,
        region=props.get("state", ""),
        subregion=props.get("county", "") or props.get("district", ""),
        country=country,
        country_code=str(props.get("countrycode", "")).upper(),
        latitude=lat,
        longitude=lon,
        distance_m=0.0
        if latitude is None or longitude is None
        else distance_m(latitude, longitude, lat, lon),
        address_line=address_line(
            props.get("name", "") if props.get("name") != name else "",
            street,
            f"{props.get('postcode', '')} {name}".strip(),
            props.get("state", ""),
            country,
        ),
        source=Source.PHOTON,
        street=street,
        postcode=props.get("postcode", ""),
    )


async def _json(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> Any:
    response = await client.get(path, params=params)
    if response.status_code != 200:
        raise ProviderError(f"{path}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as err:
        raise ProviderError(f"{path}: not JSON") from err


class NominatimProvider:
    source = Source.NOMINATIM

    def __init__(self, client: httpx.AsyncClient, *, language: str = "en") -> None:
        self._client = client
        self._language = language

    async def reverse(self, latitude: float, longitude: float) -> Place | None:
        data = await _json(
            self._client,
            "/reverse",
            {
                "format": "jsonv2",
                "lat": f"{latitude:.6f}",
                "lon": f"{longitude:.6f}",
                "addressdetails": 1,
                "accept-language": self._language,
            },
        )
        if not isinstance(data, dict):
            raise ProviderError("/reverse: not an object")
        if "error" in data:  # "Unable to geocode": open sea, no result
            return None
        return nominatim_place(data, latitude, longitude)

    async def search(self, query: str, *, limit: int, country_code: str) -> list[Place]:
        params: dict[str, Any] = {
            "q": query,
            "format": "jsonv2",
            "limit": limit,
            "addressdetails": 1,
            "accept-language": self._language,
        }
        if country_code:
            params["countrycodes"] = country_code.lower()
        data = await _json(self._client, "/search", params)
        if not isinstance(data, list):
            raise ProviderError("/search: not a list")
        return [nominatim_place(item, None, None) for item in data]


class PhotonProvider:
    source = Source.PHOTON

    def __init__(self, client: httpx.AsyncClient, *, language: str = "en") -> None:
        self._client = client
        self._language = language

    async def _features(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        data = await _json(self._client, path, params | {"lang": self._language})
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list):
            raise ProviderError(f"{path}: not a feature collection")
        return features

    async def reverse(self, latitude: float, longitude: float) -> Place | None:
        features = await self._features(
            "/reverse", {"lat": f"{latitude:.6f}", "lon": f"{longitude:.6f}", "limit": 1}
        )
        return photon_place(features[0], latitude, longitude) if features else None

    async def search(self, query: str, *, limit: int, country_code: str) -> list[Place]:
        # Photon has no country filter in every version: ask for more, filter here
        features = await self._features(
            "/api", {"q": query, "limit": limit * 3 if country_code else limit}
        )
        places = [photon_place(f, None, None) for f in features]
        if country_code:
            places = [p for p in places if p.country_code == country_code.upper()]
        return places[:limit]
