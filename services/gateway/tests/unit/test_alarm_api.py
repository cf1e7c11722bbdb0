"""Geofences, alarm rules and alarms over the gateway's real wiring (``bootstrap``), with an
in-process fake AlarmService on a real gRPC channel: mapping, authorisation (404 for what the
caller does not see, 403 for what it sees but may not change), alarm's errors, outages."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.bootstrap import Gateway
from gateway.domain.model import DeviceEntry
from services.gateway.tests.unit.conftest import StartGateway
from trackstream.alarm.v1 import alarm_pb2
from trackstream.alarm.v1 import alarm_service_pb2 as pb
from trackstream.alarm.v1 import alarm_service_pb2_grpc as pb_grpc
from trackstream.alarm.v1 import geofence_pb2 as gpb
from trackstream.tracking.v1 import fix_pb2

OWNERS = {"dA": "A", "dA1": "A1", "dA1u": "A1u", "dB": "B", "dBx": "B", "dOp": "Aop"}
T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


def stamp(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


@dataclass
class FakeAlarm(pb_grpc.AlarmServiceServicer):
    """Alarm's rules in miniature: geofences and rules per account, devices bound must be the
    account's own, radius > 0 and 3 vertices; alarms per device, ack and resolve."""

    fences: dict[str, gpb.Geofence] = field(default_factory=dict)
    rules: dict[str, gpb.Rule] = field(default_factory=dict)
    alarms: dict[tuple[str, str], pb.AlarmRecord] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)
    fail: tuple[grpc.StatusCode, str] | None = None
    counter: int = 0

    async def _check(self, account_id: str, device_ids: Any, context: Any) -> None:
        if self.fail:
            await context.abort(*self.fail)
        for device_id in device_ids:
            if OWNERS.get(device_id) != account_id:
                await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown device {device_id}")

    def _id(self) -> str:
        self.counter += 1
        return f"id{self.counter:03d}"

    async def PutGeofence(self, request: pb.PutGeofenceRequest, context: Any) -> gpb.Geofence:
        self.requests.append(request)
        fence = gpb.Geofence()
        fence.CopyFrom(request.geofence)
        await self._check(fence.account_id, fence.device_ids, context)
        if fence.HasField("circle") and fence.circle.radius_m <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "radius_m must be > 0")
        if fence.HasField("polygon") and len(fence.polygon.vertices) < 3:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a polygon needs 3 vertices")
        fence.geofence_id = fence.geofence_id or self._id()
        fence.updated_time.CopyFrom(stamp(T0))
        self.fences[fence.geofence_id] = fence
        return fence

    async def DeleteGeofence(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        self.requests.append(request)
        found = self.fences.get(request.id)
        if found is None or found.account_id != request.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown geofence {request.id}")
        del self.fences[request.id]
        return pb.DeleteResponse()

    async def ListGeofences(self, request: pb.ListRequest, context: Any) -> Any:
        self.requests.append(request)
        if self.fail:
            await context.abort(*self.fail)
        found = [f for f in self.fences.values() if f.account_id == request.account_id]
        return pb.ListGeofencesResponse(geofences=sorted(found, key=lambda f: f.geofence_id))

    async def PutRule(self, request: pb.PutRuleRequest, context: Any) -> gpb.Rule:
        self.requests.append(request)
        rule = gpb.Rule()
        rule.CopyFrom(request.rule)
        await self._check(rule.account_id, rule.device_ids, context)
        if rule.kind == gpb.RULE_KIND_OVERSPEED and rule.speed_limit_kmh <= 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "speed_limit_kmh is required")
        rule.rule_id = rule.rule_id or self._id()
        self.rules[rule.rule_id] = rule
        return rule

    async def DeleteRule(self, request: pb.DeleteRequest, context: Any) -> pb.DeleteResponse:
        self.requests.append(request)
        found = self.rules.get(request.id)
        if found is None or found.account_id != request.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown rule {request.id}")
        del self.rules[request.id]
        return pb.DeleteResponse()

    async def ListRules(self, request: pb.ListRequest, context: Any) -> pb.ListRulesResponse:
        self.requests.append(request)
        found = [r for r in self.rules.values() if r.account_id == request.account_id]
        return pb.ListRulesResponse(rules=sorted(found, key=lambda r: r.rule_id))

    async def ListAlarms(self, request: pb.ListAlarmsRequest, context: Any) -> Any:
        self.requests.append(request)
        if self.fail:
            await context.abort(*self.fail)
        found = [
            r
            for (device_id, _), r in sorted(self.alarms.items())
            if device_id == request.device_id
            and (not request.types or r.alarm.type in request.types)
        ]
        start = int(request.page_token or "0")
        page = found[start : start + request.page_size]
        more = start + request.page_size < len(found)
        return pb.ListAlarmsResponse(
            alarms=page, next_page_token=str(start + request.page_size) if more else ""
        )

    async def _mark(self, request: pb.AlarmActionRequest, context: Any, resolve: bool) -> Any:
        self.requests.append(request)
        record = self.alarms.get((request.device_id, request.alarm_id))
        if record is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown alarm {request.alarm_id}")
        assert record is not None
        if resolve:
            record.resolved_time.CopyFrom(stamp(T0 + 60))
            record.resolved_by = request.user_id
        else:
            record.acknowledged_time.CopyFrom(stamp(T0 + 30))
            record.acknowledged_by = request.user_id
        record.note = request.note
        return record

    async def AcknowledgeAlarm(self, request: pb.AlarmActionRequest, context: Any) -> Any:
        return await self._mark(request, context, resolve=False)

    async def ResolveAlarm(self, request: pb.AlarmActionRequest, context: Any) -> Any:
        return await self._mark(request, context, resolve=True)

    def raise_alarm(self, device_id: str, alarm_id: str, kind: int, at: int) -> None:
        self.alarms[(device_id, alarm_id)] = pb.AlarmRecord(
            alarm=alarm_pb2.AlarmRaised(
                alarm_id=alarm_id,
                device_id=device_id,
                owner_account_id=OWNERS[device_id],
                type=kind,  # type: ignore[arg-type]
                origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
                severity=alarm_pb2.SEVERITY_WARNING,
                alarm_time=stamp(at),
                fix=fix_pb2.Fix(fix_time=stamp(at), latitude=48.5, longitude=7.7, valid=True),
                rule_id="r1",
                details={"speed_kmh": "97"},
            )
        )


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakeAlarm
    gateway: Gateway
    keys: dict[str, dict[str, str]]

    def __getitem__(self, account_id: str) -> dict[str, str]:
        return self.keys[account_id]


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(gateway_on_fake: StartGateway) -> StartApi:
    """The fake alarm service and a gateway (no Kafka) on it; an API key per account."""

    async def start(*, alarm_address: str | None = None) -> Api:
        fake = FakeAlarm()
        on = await gateway_on_fake(
            lambda server: pb_grpc.add_AlarmServiceServicer_to_server(fake, server),
            "alarm_address",
            address=alarm_address,
        )
        on.directory.put_device(DeviceEntry("dOp", "Aop"))
        return Api(on.client, fake, on.gateway, on.keys)

    return start


CIRCLE = {"center": {"latitude": 48.57, "longitude": 7.75}, "radius_m": 250.0}
SQUARE = {
    "vertices": [
        {"latitude": 48.0, "longitude": 7.0},
        {"latitude": 48.0, "longitude": 7.1},
        {"latitude": 48.1, "longitude": 7.1},
        {"latitude": 48.1, "longitude": 7.0},
    ]
}


def is_hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


# ---------------------------------------------------------------------- geofences


async def test_geofence_lifecycle(start_api: StartApi) -> None:
    api = await start_api()
    created = await api.client.post(
        "/v1/geofences",
        headers=api["A1"],
        json={
            "name": "depot",
            "circle": CIRCLE,
            "device_ids": ["dA1", "dA1"],
            "dwell_alarm_s": 600,
        },
    )
    assert created.status_code == 201, created.text
    fence = created.json()
    assert fence["geofence_id"] == "A1.id001" and fence["account_id"] == "A1"
    assert fence["circle"] == CIRCLE and fence["polygon"] is None
    assert fence["device_ids"] == ["dA1"] and fence["dwell_alarm_s"] == 600
    assert fence["alarm_on_enter"] is True and fence["alarm_on_exit"] is True
    assert fence["updated_time"] == "2026-05-28T20:26:40Z"
    sent = api.fake.requests[-1].geofence
    assert sent.account_id == "A1" and sent.geofence_id == "" and list(sent.device_ids) == ["dA1"]

    url = f"/v1/geofences/{fence['geofence_id']}"
    assert (await api.client.get(url, headers=api["A1"])).json() == fence
    patched = await api.client.patch(
        url, headers=api["A1"], json={"polygon": SQUARE, "alarm_on_exit": False, "device_ids": []}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["circle"] is None and len(body["polygon"]["vertices"]) == 4
    assert body["alarm_on_exit"] is False and body["name"] == "depot" and body["device_ids"] == []
    assert api.fake.requests[-1].geofence.geofence_id == "id001"  # replaced, not a new one

    listed = await api.client.get("/v1/geofences", headers=api["A1"])
    assert listed.status_code == 200
    assert listed.json() == {"geofences": [body], "next_page_token": None}
    assert (await api.client.delete(url, headers=api["A1"])).status_code == 204
    assert is_hidden(await api.client.get(url, headers=api["A1"]))
    assert is_hidden(await api.client.delete(url, headers=api["A1"]))  # alarm's NOT_FOUND


async def test_geofence_listing_is_paged(start_api: StartApi) -> None:
    api = await start_api()
    for _ in range(3):
        ok = await api.client.post("/v1/geofences", headers=api["A1"], json={"circle": CIRCLE})
        assert ok.status_code == 201
    first = (
        await api.client.get("/v1/geofences", params={"page_size": 2}, headers=api["A1"])
    ).json()
    assert [f["geofence_id"] for f in first["geofences"]] == ["A1.id001", "A1.id002"]
    second = await api.client.get(
        "/v1/geofences",
        params={"page_size": 2, "page_token": first["next_page_token"]},
        headers=api["A1"],
    )
    assert [f["geofence_id"] for f in second.json()["geofences"]] == ["A1.id003"]
    assert second.json()["next_page_token"] is None
    bad = await api.client.get("/v1/geofences", params={"page_token": "nope"}, headers=api["A1"])
    assert bad.status_code == 400


async def test_a_distributor_manages_its_sub_accounts_geofences_others_see_nothing(
    start_api: StartApi,
) -> None:
    api = await start_api()
    created = await api.client.post(
        "/v1/geofences", headers=api["A"], json={"account_id": "A1", "circle": CIRCLE}
    )
    assert created.status_code == 201, created.text
    url = f"/v1/geofences/{created.json()['geofence_id']}"
    assert (await api.client.patch(url, headers=api["A"], json={"name": "x"})).status_code == 200
    before = len(api.fake.requests)
    # another tree, and a sub-account below the owner's parent: as if it did not exist
    for caller in ("B", "A1u"):
        assert is_hidden(await api.client.get(url, headers=api[caller]))
        assert is_hidden(await api.client.patch(url, headers=api[caller], json={"name": "y"}))
        assert is_hidden(await api.client.delete(url, headers=api[caller]))
        listing = await api.client.get(
            "/v1/geofences", params={"account_id": "A1"}, headers=api[caller]
        )
        assert is_hidden(listing)
        assert is_hidden(
            await api.client.post(
                "/v1/geofences", headers=api[caller], json={"account_id": "A1", "circle": CIRCLE}
            )
        )
    assert is_hidden(await api.client.get("/v1/geofences/B.id001", headers=api["A1"]))
    assert is_hidden(await api.client.get("/v1/geofences/no-separator", headers=api["A1"]))
    assert len(api.fake.requests) == before  # refused before alarm was asked
    # A1 does not see its parent's
    parent = await api.client.post("/v1/geofences", headers=api["A"], json={"circle": CIRCLE})
    assert is_hidden(
        await api.client.get(f"/v1/geofences/{parent.json()['geofence_id']}", headers=api["A1"])
    )


async def test_viewers_and_operators_read_but_do_not_manage(start_api: StartApi) -> None:
    api = await start_api()
    for account_id in ("A1u", "Aop"):
        mine = await api.client.post(
            "/v1/geofences", headers=api["A"], json={"account_id": account_id, "circle": CIRCLE}
        )
        url = f"/v1/geofences/{mine.json()['geofence_id']}"
        assert (await api.client.get(url, headers=api[account_id])).status_code == 200
        listed = await api.client.get("/v1/geofences", headers=api[account_id])
        assert len(listed.json()["geofences"]) == 1
        for response in (
            await api.client.post(
                "/v1/geofences", headers=api[account_id], json={"circle": CIRCLE}
            ),
            await api.client.patch(url, headers=api[account_id], json={"name": "n"}),
            await api.client.delete(url, headers=api[account_id]),
        ):
            assert response.status_code == 403, response.text
            assert response.json()["type"].endswith(":forbidden")


async def test_bound_devices_must_be_visible(start_api: StartApi) -> None:
    api = await start_api()
    before = len(api.fake.requests)
    for device_ids in (["dB"], ["dA1", "dA"], ["unknown"]):
        response = await api.client.post(
            "/v1/geofences", headers=api["A1"], json={"circle": CIRCLE, "device_ids": device_ids}
        )
        assert is_hidden(response), response.text
        response = await api.client.post(
            "/v1/alarm-rules",
            headers=api["A1"],
            json={"kind": "ignition", "device_ids": device_ids},
        )
        assert is_hidden(response), response.text
    assert len(api.fake.requests) == before
    # visible, but of a sub-account: alarm refuses it (NOT_FOUND), still a 404
    response = await api.client.post(
        "/v1/geofences", headers=api["A"], json={"circle": CIRCLE, "device_ids": ["dA1"]}
    )
    assert is_hidden(response), response.text


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ({"circle": {**CIRCLE, "radius_m": 0}}, "radius_m must be > 0"),
        ({"polygon": {"vertices": SQUARE["vertices"][:2]}}, "a polygon needs 3 vertices"),
    ],
)
async def test_bad_geometry_is_a_422_with_alarms_reason(
    start_api: StartApi, shape: dict[str, Any], reason: str
) -> None:
    api = await start_api()
    response = await api.client.post("/v1/geofences", headers=api["A1"], json=shape)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:trackstream:problem:invalid-argument"
    assert response.json()["detail"] == reason


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"circle": CIRCLE, "polygon": SQUARE},
        {"circle": {**CIRCLE, "radius_m": "nan"}},
        {"circle": {"center": {"latitude": 91, "longitude": 0}, "radius_m": 5}},
        {"circle": CIRCLE, "dwell_alarm_s": -1},
        {"circle": CIRCLE, "dwell_alarm_s": 2**32},
        {"circle": CIRCLE, "colour": "red"},
    ],
)
async def test_malformed_geofences_never_reach_alarm(
    start_api: StartApi, body: dict[str, Any]
) -> None:
    api = await start_api()
    response = await api.client.post("/v1/geofences", headers=api["A1"], json=body)
    assert response.status_code == 422, response.text
    assert api.fake.requests == []


# ---------------------------------------------------------------------- rules


async def test_rule_lifecycle(start_api: StartApi) -> None:
    api = await start_api()
    created = await api.client.post(
        "/v1/alarm-rules",
        headers=api["A1"],
        json={
            "name": "speed",
            "kind": "overspeed",
            "speed_limit_kmh": 90,
            "min_duration_s": 30,
            "device_ids": ["dA1"],
        },
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["rule_id"] == "A1.id001" and rule["kind"] == "overspeed"
    assert rule["speed_limit_kmh"] == 90 and rule["enabled"] is True
    assert api.fake.requests[-1].rule.kind == gpb.RULE_KIND_OVERSPEED
    url = f"/v1/alarm-rules/{rule['rule_id']}"
    assert (await api.client.get(url, headers=api["A1"])).json() == rule
    patched = await api.client.patch(url, headers=api["A1"], json={"enabled": False})
    assert patched.json()["enabled"] is False and patched.json()["speed_limit_kmh"] == 90
    listed = (await api.client.get("/v1/alarm-rules", headers=api["A1"])).json()
    assert [r["rule_id"] for r in listed["rules"]] == ["A1.id001"]
    for caller in ("B", "A1u"):
        assert is_hidden(await api.client.get(url, headers=api[caller]))
        assert is_hidden(await api.client.delete(url, headers=api[caller]))
    assert (await api.client.delete(url, headers=api["A1"])).status_code == 204
    assert is_hidden(await api.client.get(url, headers=api["A1"]))


async def test_bad_rules_are_422(start_api: StartApi) -> None:
    api = await start_api()
    refused = await api.client.post(
        "/v1/alarm-rules", headers=api["A1"], json={"kind": "overspeed"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "speed_limit_kmh is required"  # alarm's reason
    for body in ({}, {"kind": "teleport"}, {"kind": "low_battery", "battery_below_percent": 101}):
        response = await api.client.post("/v1/alarm-rules", headers=api["A1"], json=body)
        assert response.status_code == 422, response.text


# ---------------------------------------------------------------------- alarms


async def test_alarms_of_a_visible_device(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.raise_alarm("dA1", "al-1", alarm_pb2.ALARM_TYPE_OVERSPEED, T0)
    api.fake.raise_alarm("dA1", "al-2", alarm_pb2.ALARM_TYPE_OFFLINE, T0 + 10)
    api.fake.raise_alarm("dA1", "al-3", alarm_pb2.ALARM_TYPE_OVERSPEED, T0 + 20)
    params: dict[str, Any] = {
        "from": "2026-05-28T00:00:00Z",
        "to": "2026-05-29T00:00:00Z",
        "type": ["overspeed"],
        "page_size": 1,
    }
    first = await api.client.get("/v1/devices/dA1/alarms", params=params, headers=api["A"])
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["device_id"] == "dA1" and body["next_page_token"]
    (alarm,) = body["alarms"]
    assert alarm["alarm_id"] == "al-1" and alarm["alarm_type"] == "overspeed"
    assert alarm["origin"] == "platform" and alarm["severity"] == "warning"
    assert alarm["state"] == "open" and alarm["rule_id"] == "A1.r1"
    assert alarm["fix"]["latitude"] == 48.5 and alarm["details"] == {"speed_kmh": "97"}
    sent = api.fake.requests[-1]
    assert list(sent.types) == [alarm_pb2.ALARM_TYPE_OVERSPEED] and sent.page_size == 1
    assert sent.end_time.seconds - sent.start_time.seconds == 86400
    second = await api.client.get(
        "/v1/devices/dA1/alarms",
        params={**params, "page_token": body["next_page_token"]},
        headers=api["A"],
    )
    assert [a["alarm_id"] for a in second.json()["alarms"]] == ["al-3"]
    assert api.fake.requests[-1].page_token == "1"  # alarm's token, unwrapped
    # defaults: the last day
    default = await api.client.get("/v1/devices/dA1/alarms", headers=api["A1"])
    assert default.status_code == 200
    sent = api.fake.requests[-1]
    assert sent.end_time.seconds - sent.start_time.seconds == 86400 and list(sent.types) == []
    # a shared device reads too
    assert (await api.client.get("/v1/devices/dB/alarms", headers=api["A1u"])).status_code == 200


async def test_alarms_of_invisible_devices_and_bad_queries(start_api: StartApi) -> None:
    api = await start_api()
    for caller, device_id in (("B", "dA1"), ("A1", "dA"), ("A1", "nope"), ("A1u", "dBx")):
        response = await api.client.get(f"/v1/devices/{device_id}/alarms", headers=api[caller])
        assert is_hidden(response), response.text
    for params in (
        {"type": ["teleport"]},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"page_size": 0},
    ):
        response = await api.client.get("/v1/devices/dA1/alarms", params=params, headers=api["A1"])
        assert response.status_code == 422, (params, response.text)
    assert api.fake.requests == []


async def test_acknowledge_and_resolve(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.raise_alarm("dA1", "al-1", alarm_pb2.ALARM_TYPE_SOS, T0)
    api.fake.raise_alarm("dOp", "al-9", alarm_pb2.ALARM_TYPE_SOS, T0)
    acked = await api.client.post(
        "/v1/devices/dA1/alarms/al-1/acknowledge", headers=api["A1"], json={"note": "on it"}
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_by"] == "A1"
    assert acked.json()["note"] == "on it"
    resolved = await api.client.post("/v1/devices/dA1/alarms/al-1/resolve", headers=api["A"])
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved" and resolved.json()["resolved_by"] == "A"
    sent = api.fake.requests[-1]
    assert (sent.device_id, sent.alarm_id, sent.user_id, sent.note) == ("dA1", "al-1", "A", "")
    operator = await api.client.post("/v1/devices/dOp/alarms/al-9/acknowledge", headers=api["Aop"])
    assert operator.status_code == 200, operator.text
    before = len(api.fake.requests)
    # invisible: 404; visible but a viewer, or only shared: 403; never reaching alarm
    for caller, device_id in (("B", "dA1"), ("A1", "dA"), ("A1u", "dBx")):
        for action in ("acknowledge", "resolve"):
            url = f"/v1/devices/{device_id}/alarms/al-1/{action}"
            assert is_hidden(await api.client.post(url, headers=api[caller]))
    for device_id in ("dA1u", "dB"):
        response = await api.client.post(
            f"/v1/devices/{device_id}/alarms/al-1/acknowledge", headers=api["A1u"]
        )
        assert response.status_code == 403, response.text
    assert len(api.fake.requests) == before
    # an alarm of another device named through a device the caller sees: alarm's NOT_FOUND
    assert is_hidden(
        await api.client.post("/v1/devices/dA1/alarms/al-9/acknowledge", headers=api["A"])
    )


async def test_alarm_unavailable_is_a_503_problem(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.fail = (grpc.StatusCode.UNAVAILABLE, "store down")
    for path in ("/v1/geofences", "/v1/devices/dA1/alarms"):
        response = await api.client.get(path, headers=api["A1"])
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = await start_api(alarm_address=f"127.0.0.1:{closed_port}")
    response = await down.client.get("/v1/alarm-rules", headers=down["A1"])
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "urn:trackstream:problem:backend-unavailable"


async def test_unauthenticated_callers_are_refused(start_api: StartApi) -> None:
    api = await start_api()
    for method, path in (
        ("GET", "/v1/geofences"),
        ("GET", "/v1/alarm-rules/A1.r1"),
        ("GET", "/v1/devices/dA1/alarms"),
        ("POST", "/v1/devices/dA1/alarms/al-1/resolve"),
    ):
        assert (await api.client.request(method, path)).status_code == 401
    assert api.fake.requests == []
