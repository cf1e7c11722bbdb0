"""Schemathesis fuzzes the running gateway from its own OpenAPI document, authenticated with an
API key of an account that owns a device (whose ids fill the path parameters), against the real
identity, history and Kafka: no request may get a 5xx answer. Bounded: the coverage phase
(boundary values of every parameter) and a few random examples per operation, two workers,
under two minutes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from services.gateway.tests.integration.conftest import (
    Stack,
    bearer,
    eventually,
    login,
    unique_imei,
)
from trackstream.identity.v1 import accounts_pb2 as apb

pytestmark = pytest.mark.asyncio(loop_scope="session")
MAX_EXAMPLES = 4


async def test_fuzzing_the_openapi_document_finds_no_server_error(
    stack: Stack, tmp_path: Path
) -> None:
    account_id, email = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label="fuzz"
    )

    async def known() -> bool:
        return account_id in stack.gateway.context.directory.accounts

    await eventually(known)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        token = await login(client, email)
        device = await client.post(
            "/v1/devices",
            headers=bearer(token),
            json={"identifier": unique_imei(), "protocol": "gt06"},
        )
        assert device.status_code == 201
        device_id = device.json()["device_id"]
        key = await client.post("/v1/api-keys", headers=bearer(token), json={"name": "fuzz"})
        api_key = key.json()["secret"]
    # real ids for path parameters, so generated queries and bodies reach identity and history
    # instead of stopping at "no such device"
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.device_id" = "{device_id}"\n'
        f'"path.account_id" = "{account_id}"\n'
        "[phases.coverage]\n"
        "unexpected-methods = []\n"
    )
    schemathesis = Path(sys.executable).with_name("schemathesis")
    report = tmp_path / "junit.xml"
    process = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "--config-file",
        str(config),
        "run",
        f"{stack.base_url}/v1/openapi.json",
        "--header",
        f"X-API-Key: {api_key}",
        "--generation-with-security-parameters=false",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "20261129",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        cwd=tmp_path,  # its example database stays out of the repository
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    text = output.decode(errors="replace")
    print(text[-6000:])
    assert process.returncode == 0, text[-6000:]
    assert "not_a_server_error" in text or report.exists()
