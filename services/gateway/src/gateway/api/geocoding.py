"""On-demand lookups from the geocoding service: the place of a point, and places by name.
No tenant data: any authenticated caller may ask (rate-limited like every request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from gateway.api.problems import Problem
from gateway.api.security import CallerDep, gateway_of
from gateway.domain import render
from trackstream.geocoding.v1 import geocoding_service_pb2 as gpb

router = APIRouter(prefix="/v1", tags=["geocoding"])
MAX_QUERY = 200  # geocoding's bounds (SearchPlacesRequest)
MIN_QUERY = 2
MAX_LIMIT = 50
DEFAULT_LIMIT = 10


@router.get("/geocode/reverse")
async def reverse_geocode(
    *,
    request: Request,
    latitude: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="WGS 84")],
    longitude: Annotated[float, Query(ge=-180, le=180, allow_inf_nan=False, description="WGS 84")],
    caller: CallerDep,
) -> dict[str, Any]:
    """The place nearest to a point (the town, or a provider's address when one is configured).
    0,0 is refused (422) as geocoding refuses it: a fix that is not one."""
    context = gateway_of(request)
    response = await context.geocoding.ReverseGeocode(
        gpb.ReverseGeocodeRequest(latitude=latitude, longitude=longitude),
        timeout=context.settings.backend_timeout_s,
    )
    return render.geocoded_place_json(response.place)


@router.get("/places")
async def search_places(
    *,
    request: Request,
    q: Annotated[
        str,
        Query(
            min_length=MIN_QUERY,
            max_length=MAX_QUERY,
            description="a place name: exact names first, then prefixes",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    country: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2: only this country"),
    ] = None,
    caller: CallerDep,
) -> dict[str, Any]:
    """Places whose name matches ``q``, best match first."""
    context = gateway_of(request)
    query = q.strip()
    if len(query) < MIN_QUERY:
        raise Problem(
            422, f"q has at least {MIN_QUERY} characters besides spaces", slug="invalid-argument"
        )
    response = await context.geocoding.SearchPlaces(
        gpb.SearchPlacesRequest(query=query, limit=limit, country_code=(country or "").upper()),
        timeout=context.settings.backend_timeout_s,
    )
    return {"places": [render.geocoded_place_json(p) for p in response.places]}
