"""The stack starts; a login through the gateway works; problems and request ids."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.integration.conftest import Stack, bearer, login
from trackstream.identity.v1 import accounts_pb2 as pb

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_login_and_me(stack: Stack) -> None:
    account_id, email = await stack.create_account(
        stack.platform_id, pb.ACCOUNT_KIND_ENTERPRISE, label="smoke"
    )
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        token = await login(client, email)
        me = await client.get("/v1/accounts/me", headers=bearer(token) | {"X-Request-Id": "r-1"})
        assert me.status_code == 200, me.text
        assert me.json()["account_id"] == account_id
        assert me.headers["x-request-id"] == "r-1"
        assert int(me.headers["ratelimit-remaining"]) >= 0
        missing = await client.get("/v1/nowhere")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        body = missing.json()
        assert body["status"] == 404 and body["request_id"] == missing.headers["x-request-id"]
        jwks = await client.get("/.well-known/jwks.json")
        assert jwks.json()["keys"][0]["kty"] == "OKP"
