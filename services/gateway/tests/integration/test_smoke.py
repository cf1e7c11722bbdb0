"""The stack starts; a login through the gateway works; problems and request ids."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.integration.conftest import (
    PASSWORD,
    Stack,
    bearer,
    eventually,
    login,
    unique_imei,
)
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


async def test_rate_limit_answers_429_with_retry_after(stack: Stack) -> None:
    account_id, email = await stack.create_account(
        stack.platform_id, pb.ACCOUNT_KIND_ENTERPRISE, label="limited"
    )
    gateway = await stack.start_gateway(rate_per_s=0.5, rate_burst=3)

    async def known() -> bool:
        return account_id in gateway.context.directory.accounts

    await eventually(known)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}") as client:
        token = (
            await client.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
        ).json()["access_token"]
        answers = [await client.get("/v1/devices", headers=bearer(token)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["status"] == 429


async def test_a_backend_outage_is_a_503_problem_and_bad_input_a_422(stack: Stack) -> None:
    account_id, email = await stack.create_account(
        stack.platform_id, pb.ACCOUNT_KIND_ENTERPRISE, label="outage"
    )
    # history at an address where nothing listens
    gateway = await stack.start_gateway(history_address="127.0.0.1:9")

    async def known() -> bool:
        return account_id in gateway.context.directory.accounts

    await eventually(known)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.http_port}") as client:
        token = await login(client, email)
        device = await client.post(
            "/v1/devices",
            headers=bearer(token),
            json={"identifier": unique_imei(), "protocol": "gt06"},
        )
        assert device.status_code == 201, device.text
        device_id = device.json()["device_id"]
        down = await client.get(f"/v1/devices/{device_id}/last-position", headers=bearer(token))
        assert down.status_code == 503, down.text
        assert down.headers["content-type"] == "application/problem+json"
        assert "retry-after" in down.headers
        bad = await client.get(
            f"/v1/devices/{device_id}/track",
            headers=bearer(token),
            params={"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        )
        assert bad.status_code == 422 and "31 days" in bad.json()["detail"]
        invalid = await client.post("/v1/devices", headers=bearer(token), json={"protocol": "x"})
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == "application/problem+json"
        assert {tuple(e["loc"]) for e in invalid.json()["errors"]} >= {
            ("body", "identifier"),
            ("body", "protocol"),
        }
        duplicate = await client.post(
            "/v1/devices",
            headers=bearer(token),
            json={"identifier": device.json()["identifier"], "protocol": "gt06"},
        )
        assert duplicate.status_code == 409, duplicate.text
