"""The geocoding endpoints against the real geocoding service (its offline dataset)."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.integration.conftest import Stack, bearer, eventually, login
from trackstream.identity.v1 import accounts_pb2 as apb

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_reverse_geocode_and_search_through_the_gateway(stack: Stack) -> None:
    account_id, email = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_END_USER, apb.ACCOUNT_ROLE_VIEWER, label="geo"
    )

    async def known() -> bool:
        return account_id in stack.gateway.context.directory.accounts

    await eventually(known)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers = bearer(await login(client, email))
        point = {"latitude": 48.5734, "longitude": 7.7521}
        response = await client.get("/v1/geocode/reverse", params=point, headers=headers)
        assert response.status_code == 200, response.text
        place = response.json()
        assert (place["name"], place["country"], place["country_code"]) == (
            "Strasbourg",
            "France",
            "FR",
        )
        assert place["source"] == "offline" and place["distance_m"] < 5_000

        found = await client.get(
            "/v1/places", params={"q": "strasbourg", "country": "fr", "limit": 5}, headers=headers
        )
        assert found.status_code == 200, found.text
        places = found.json()["places"]
        assert places and places[0]["name"] == "Strasbourg"
        assert {p["country_code"] for p in places} == {"FR"}

        refused = await client.get(
            "/v1/geocode/reverse", params={"latitude": 0, "longitude": 0}, headers=headers
        )
        assert refused.status_code == 422  # geocoding's own rule: 0,0 is no fix
        assert refused.json()["type"] == "urn:trackstream:problem:invalid-argument"
