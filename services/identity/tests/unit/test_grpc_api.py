"""The gRPC adapter over the handlers and fakes: statuses, messages, optional fields."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cassandra.cluster import NoHostAvailable
from google.protobuf.timestamp_pb2 import Timestamp

from identity.adapters.grpc_api import serve_grpc
from services.identity.tests.unit.conftest import Harness
from trackstream.identity.v1 import accounts_pb2
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc

PASSWORD = "correct horse battery"


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[tuple[Harness, pb_grpc.IdentityServiceStub]]:
    server, port = await serve_grpc(harness.identity, "127.0.0.1", 0)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield harness, pb_grpc.IdentityServiceStub(channel)
    await server.stop(None)


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    code: grpc.StatusCode = refused.value.code()
    return code


async def test_statuses_and_optional_fields(
    api: tuple[Harness, pb_grpc.IdentityServiceStub],
) -> None:
    harness, stub = api
    root, _ = await harness.identity.bootstrap_platform(
        email="root@example.com", password=PASSWORD, display_name="Root"
    )
    request = pb.CreateAccountRequest(
        parent_account_id=root.account_id,
        kind=accounts_pb2.ACCOUNT_KIND_ENTERPRISE,
        email="e@example.com",
        display_name="E",
        password=PASSWORD,
        phone="+491701234567",
    )
    account = await stub.CreateAccount(request)
    assert account.email == "e@example.com" and account.kind == accounts_pb2.ACCOUNT_KIND_ENTERPRISE
    assert await code_of(stub.CreateAccount(request)) == grpc.StatusCode.ALREADY_EXISTS
    assert await code_of(stub.GetAccount(pb.GetAccountRequest(account_id="x"))) == (
        grpc.StatusCode.NOT_FOUND
    )
    bad = pb.IssueTokenRequest(email="e@example.com", password="wrong password")
    assert await code_of(stub.IssueToken(bad)) == grpc.StatusCode.UNAUTHENTICATED

    # only the fields set are changed: the phone stays, the name changes
    renamed = await stub.UpdateAccount(
        pb.UpdateAccountRequest(account_id=account.account_id, display_name="Renamed")
    )
    assert (renamed.display_name, renamed.phone) == ("Renamed", "+491701234567")
    cleared = await stub.UpdateAccount(
        pb.UpdateAccountRequest(account_id=account.account_id, phone="")
    )
    assert cleared.phone == "" and cleared.display_name == "Renamed"

    device = await stub.RegisterDevice(
        pb.RegisterDeviceRequest(
            owner_account_id=account.account_id, identifier="868120000000005", protocol="gt06"
        )
    )
    assert device.device_timezone == "UTC" and not device.HasField("expiry_time")
    out_of_range = pb.UpdateDeviceRequest(
        device_id=device.device_id, expiry_time=Timestamp(seconds=2**40)
    )
    assert await code_of(stub.UpdateDevice(out_of_range)) == grpc.StatusCode.INVALID_ARGUMENT
    disabled = await stub.UpdateDevice(
        pb.UpdateDeviceRequest(device_id=device.device_id, disabled=True)
    )
    assert disabled.disabled and disabled.device_timezone == "UTC"
    jwks = await stub.GetJwks(pb.GetJwksRequest())
    assert harness.signing_key.kid in jwks.jwks_json


async def test_a_store_outage_answers_unavailable(
    api: tuple[Harness, pb_grpc.IdentityServiceStub],
) -> None:
    harness, stub = api

    async def down(account_id: str) -> None:
        raise NoHostAvailable("no host", {})

    harness.store.get_account = down  # type: ignore[method-assign]
    call = stub.GetAccount(pb.GetAccountRequest(account_id="a"))
    assert await code_of(call) == grpc.StatusCode.UNAVAILABLE
