"""Erasure routes over the gateway's real wiring, with an in-process fake PrivacyService on a
real gRPC channel: who may erase what (404 for what the caller does not see, 403 for what it
sees but may not erase), idempotent request ids, status and certificate visibility."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest

from services.gateway.tests.unit.conftest import KEY_HOLDERS, StartGateway
from trackstream.privacy.v1 import privacy_service_pb2 as pb
from trackstream.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from trackstream.privacy.v1.erasure_pb2 import ErasureCertificate, ErasureRequested


@dataclass
class FakePrivacy(pb_grpc.PrivacyServiceServicer):
    erasures: dict[str, pb.ErasureStatus] = field(default_factory=dict)
    requests: list[ErasureRequested] = field(default_factory=list)
    exports: dict[str, pb.ExportStatus] = field(default_factory=dict)

    async def RequestErasure(self, request: ErasureRequested, context: Any) -> pb.ErasureStatus:
        self.requests.append(request)
        if request.request_id not in self.erasures:
            self.erasures[request.request_id] = pb.ErasureStatus(
                request_id=request.request_id,
                state=pb.ERASURE_STATE_IN_PROGRESS,
                subject_kind=request.subject_kind,
                pending=["history", "media"],
                requested_by=request.requested_by,
            )
        return self.erasures[request.request_id]

    async def GetErasure(self, request: pb.GetErasureRequest, context: Any) -> pb.ErasureStatus:
        if request.request_id not in self.erasures:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such erasure")
        return self.erasures[request.request_id]

    async def GetCertificateKeys(
        self, request: pb.GetCertificateKeysRequest, context: Any
    ) -> pb.GetCertificateKeysResponse:
        return pb.GetCertificateKeysResponse(jwks_json='{"keys":[]}')

    async def RequestExport(
        self, request: pb.RequestExportRequest, context: Any
    ) -> pb.ExportStatus:
        known = self.exports.get(request.export_id)
        if known is not None and known.account_id != request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "export id taken")
        if known is None:
            known = self.exports[request.export_id] = pb.ExportStatus(
                export_id=request.export_id,
                state=pb.EXPORT_STATE_RUNNING,
                account_id=request.account_id,
                requested_by=request.requested_by,
            )
        return known

    async def GetExport(self, request: pb.GetExportRequest, context: Any) -> pb.ExportStatus:
        if request.export_id not in self.exports:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such export")
        return self.exports[request.export_id]


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakePrivacy
    keys: dict[str, dict[str, str]]


@pytest.fixture
async def api(gateway_on_fake: StartGateway) -> Api:
    fake = FakePrivacy()
    on = await gateway_on_fake(
        lambda server: pb_grpc.add_PrivacyServiceServicer_to_server(fake, server),
        "privacy_address",
        key_holders=(*KEY_HOLDERS, ("A1u-ro", "A1u", True)),
    )
    return Api(on.client, fake, on.keys)


def hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


async def test_an_admin_above_erases_a_device_and_follows_it(api: Api) -> None:
    request_id = str(uuid.uuid4())
    response = await api.client.post(
        "/v1/devices/dA1/erasure", json={"request_id": request_id}, headers=api.keys["A"]
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/erasures/{request_id}"
    body = response.json()
    assert body["state"] == "in_progress" and body["subject_kind"] == "device"
    assert body["pending"] == ["history", "media"] and body["certificate"] is None
    sent = api.fake.requests[-1]
    assert (sent.subject_id, sent.requested_by, sent.request_id) == ("dA1", "A", request_id)
    # the same request id again is the same erasure
    again = await api.client.post(
        "/v1/devices/dA1/erasure", json={"request_id": request_id}, headers=api.keys["A"]
    )
    assert again.json()["request_id"] == request_id and len(api.fake.erasures) == 1
    # done: the certificate comes with the exact signed bytes
    status = api.fake.erasures[request_id]
    status.state = pb.ERASURE_STATE_DONE
    status.certificate.CopyFrom(
        ErasureCertificate(
            request_id=request_id, key_id="k", signature="s", signed_json='{"request_id":"x"}'
        )
    )
    done = await api.client.get(f"/v1/erasures/{request_id}", headers=api.keys["A"])
    assert done.status_code == 200
    certificate = done.json()["certificate"]
    assert certificate["signed_json"] == '{"request_id":"x"}'
    assert certificate["content"] == {"request_id": "x"}
    # the request id is the capability: readable without an account (the subject may be gone)
    anonymous = await api.client.get(f"/v1/erasures/{request_id}")
    assert anonymous.status_code == 200 and anonymous.json() == done.json()
    assert "requested_by" not in anonymous.json()
    assert hidden(await api.client.get("/v1/erasures/not-a-uuid"))
    assert hidden(await api.client.get(f"/v1/erasures/{uuid.uuid4()}"))


async def test_who_may_erase_what(api: Api) -> None:
    # another tree's device or account: not visible
    assert hidden(await api.client.post("/v1/devices/dB/erasure", headers=api.keys["A"]))
    assert hidden(await api.client.post("/v1/accounts/B/erasure", headers=api.keys["A"]))
    # a shared device is read-only for the account it is shared with
    shared = await api.client.post("/v1/devices/dB/erasure", headers=api.keys["A1u"])
    assert shared.status_code == 403
    # a sibling account does not see the account; an admin above erases it
    assert (
        await api.client.post("/v1/accounts/A1/erasure", headers=api.keys["Aop"])
    ).status_code == 404
    ok = await api.client.post("/v1/accounts/A1u/erasure", headers=api.keys["A1"])
    assert ok.status_code == 202 and ok.json()["subject_kind"] == "account"
    # the account's owner erases itself whatever its role, but not with a read-only key
    own = await api.client.post(
        "/v1/accounts/A1u/erasure", json={"reason": "bye"}, headers=api.keys["A1u"]
    )
    assert own.status_code == 202 and api.fake.requests[-1].reason == "bye"
    ro = await api.client.post("/v1/accounts/A1u/erasure", headers=api.keys["A1u-ro"])
    assert ro.status_code == 403
    # a malformed body is a 422 problem and reaches nobody
    before = len(api.fake.requests)
    bad = await api.client.post(
        "/v1/devices/dA1/erasure", json={"request_id": "nope"}, headers=api.keys["A"]
    )
    assert bad.status_code == 422 and len(api.fake.requests) == before


async def test_certificate_keys_are_public_json(api: Api) -> None:
    response = await api.client.get("/v1/privacy/certificate-keys")
    assert response.status_code == 200
    assert json.loads(response.text) == {"keys": []}


async def test_an_account_exports_its_data_and_only_it_and_admins_above_read_it(api: Api) -> None:
    # another tree, or an operator beside it: not visible
    assert hidden(await api.client.post("/v1/accounts/A1u/exports", headers=api.keys["B"]))
    assert hidden(await api.client.post("/v1/accounts/A1u/exports", headers=api.keys["Aop"]))
    # the account itself, whatever its role (a viewer: its own data)
    asked = await api.client.post("/v1/accounts/A1u/exports", headers=api.keys["A1u"])
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "running" and body["download_url"] is None
    export_url = asked.headers["Location"]
    status = api.fake.exports[body["export_id"]]
    assert (status.account_id, status.requested_by) == ("A1u", "A1u")
    # ready: the link and the parts
    status.state = pb.EXPORT_STATE_READY
    status.download_url = "http://s3/exports/x.zip?sig"
    status.parts.add(path="positions/dA1u.csv", records=3, size_bytes=120, sha256="ab" * 32)
    ready = await api.client.get(export_url, headers=api.keys["A1u"])
    assert ready.status_code == 200
    assert ready.json()["download_url"] == "http://s3/exports/x.zip?sig"
    assert ready.json()["parts"][0]["records"] == 3
    # an admin above reads it; another tree and an operator beside it do not
    assert (await api.client.get(export_url, headers=api.keys["A1"])).status_code == 200
    assert (await api.client.get(export_url, headers=api.keys["A"])).status_code == 200
    assert hidden(await api.client.get(export_url, headers=api.keys["B"]))
    assert hidden(await api.client.get(export_url, headers=api.keys["Aop"]))
    assert hidden(await api.client.get("/v1/exports/not-a-uuid", headers=api.keys["A1u"]))
    # an admin above asks for its sub-account's export
    above = await api.client.post("/v1/accounts/A1u/exports", headers=api.keys["A"])
    assert above.status_code == 202
    assert api.fake.exports[above.json()["export_id"]].requested_by == "A"
