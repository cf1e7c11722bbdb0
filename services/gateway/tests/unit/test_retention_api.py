"""Account retention routes over the gateway's real wiring, with an in-process fake identity on
a real gRPC channel: who may read and set it (404 for what the caller does not see, 403 for what
it sees but may not change), inheritance in what applies, RFC 9457 problems for bad values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest

from gateway.domain.directory import Directory
from services.gateway.tests.unit.conftest import StartGateway
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc
from trackstream.identity.v1.accounts_pb2 import AccountRetention
from trackstream_events.retention import MAX_DAYS

#: the fake identity's platform maximum
PLATFORM_MAX = 400


@dataclass
class FakeIdentity(pb_grpc.IdentityServiceServicer):
    directory: Directory
    updates: list[pb.UpdateAccountRequest] = field(default_factory=list)

    async def UpdateAccount(self, request: pb.UpdateAccountRequest, context: Any) -> pb.Account:
        for name in ("positions_days", "alarms_days", "media_days"):
            if getattr(request.retention, name) > PLATFORM_MAX:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"{name} is at most {PLATFORM_MAX}"
                )
        self.updates.append(request)
        node = self.directory.accounts[request.account_id]
        return pb.Account(
            account_id=node.account_id,
            parent_account_id=node.parent_id,
            ancestor_account_ids=node.ancestors,
            kind=int(node.kind),  # type: ignore[arg-type]
            role=int(node.role),  # type: ignore[arg-type]
            retention=request.retention,
        )


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakeIdentity
    keys: dict[str, dict[str, str]]


@pytest.fixture
async def api(gateway_on_fake: StartGateway) -> Api:
    holder: list[FakeIdentity] = []

    def serve(server: grpc.aio.Server) -> None:
        # only UpdateAccount is served: the gateway reads accounts from its directory
        holder.append(FakeIdentity(Directory()))  # type: ignore[abstract]
        pb_grpc.add_IdentityServiceServicer_to_server(holder[0], server)

    on = await gateway_on_fake(serve, "identity_address")
    holder[0].directory = on.directory
    return Api(on.client, holder[0], on.keys)


def hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


async def test_a_sub_account_inherits_what_its_parent_sets_until_it_sets_its_own(api: Api) -> None:
    put = await api.client.put(
        "/v1/accounts/A/retention",
        json={"positions_days": 30, "alarms_days": 90},
        headers=api.keys["A"],
    )
    assert put.status_code == 200, put.text
    assert put.json() == {
        "account_id": "A",
        "positions_days": 30,
        "alarms_days": 90,
        "media_days": None,
        "effective": {
            "positions_days": {"days": 30, "set_by": "A"},
            "alarms_days": {"days": 90, "set_by": "A"},
            "media_days": {"days": None, "set_by": None},  # the platform's default
        },
    }
    assert api.fake.updates[-1].retention == AccountRetention(positions_days=30, alarms_days=90)
    # A1 (below A) sets nothing: it inherits A's; its own media days are its own
    got = await api.client.get("/v1/accounts/A1/retention", headers=api.keys["A1"])
    assert got.status_code == 200
    assert got.json()["positions_days"] is None
    assert got.json()["effective"]["positions_days"] == {"days": 30, "set_by": "A"}
    await api.client.put(
        "/v1/accounts/A1/retention",
        json={"positions_days": 7, "media_days": 14},
        headers=api.keys["A1"],
    )
    below = (await api.client.get("/v1/accounts/A1u/retention", headers=api.keys["A1u"])).json()
    assert below["effective"] == {
        "positions_days": {"days": 7, "set_by": "A1"},  # the nearer ancestor wins
        "alarms_days": {"days": 90, "set_by": "A"},
        "media_days": {"days": 14, "set_by": "A1"},
    }
    # clearing (0 or absent) falls back to the parent's
    cleared = await api.client.put(
        "/v1/accounts/A1/retention", json={"positions_days": 0}, headers=api.keys["A"]
    )
    assert cleared.json()["effective"]["positions_days"] == {"days": 30, "set_by": "A"}
    assert cleared.json()["effective"]["media_days"] == {"days": None, "set_by": None}


async def test_who_may_read_and_set_an_accounts_retention(api: Api) -> None:
    body = {"media_days": 3}
    # its own admin and the admins above set it; B's admin does not see A's tree
    for who, target in (("A1", "A1"), ("A", "A1"), ("A", "A1u")):
        response = await api.client.put(
            f"/v1/accounts/{target}/retention", json=body, headers=api.keys[who]
        )
        assert response.status_code == 200, (who, target, response.text)
    for who, target in (("B", "A1"), ("A1", "A"), ("A1", "B")):
        put = await api.client.put(
            f"/v1/accounts/{target}/retention", json=body, headers=api.keys[who]
        )
        get = await api.client.get(f"/v1/accounts/{target}/retention", headers=api.keys[who])
        assert hidden(put) and hidden(get), (who, target)
    # an operator, a viewer: they read it, they do not set it
    updates = len(api.fake.updates)
    for who, target in (("Aop", "Aop"), ("A1u", "A1u")):
        assert (
            await api.client.get(f"/v1/accounts/{target}/retention", headers=api.keys[who])
        ).status_code == 200
        refused = await api.client.put(
            f"/v1/accounts/{target}/retention", json=body, headers=api.keys[who]
        )
        assert refused.status_code == 403, (who, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert len(api.fake.updates) == updates
    assert (await api.client.get("/v1/accounts/A/retention")).status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"positions_days": -1}, "positions_days"),
        ({"alarms_days": MAX_DAYS + 1}, "alarms_days"),
        ({"media_days": "forever"}, "media_days"),
        ({"media_days": 1.5}, "media_days"),
        ({"video_days": 3}, "video_days"),
    ],
)
async def test_bad_values_are_refused_with_a_problem_and_change_nothing(
    api: Api, body: dict[str, Any], reason: str
) -> None:
    response = await api.client.put("/v1/accounts/A1/retention", json=body, headers=api.keys["A1"])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.text
    assert api.fake.updates == []


async def test_above_the_platform_maximum_identity_refuses_and_the_gateway_says_why(
    api: Api,
) -> None:
    response = await api.client.put(
        "/v1/accounts/A1/retention", json={"alarms_days": PLATFORM_MAX + 1}, headers=api.keys["A1"]
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith(":invalid-argument")
    assert f"at most {PLATFORM_MAX}" in problem["detail"]
    assert api.fake.updates == []
    got = await api.client.get("/v1/accounts/A1/retention", headers=api.keys["A1"])
    assert got.json()["alarms_days"] is None
