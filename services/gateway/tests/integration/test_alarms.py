"""Geofences, rules and alarms through the gateway against alarm's real gRPC API (its tables on
the real Kafka, its history in the real Cassandra), and platform alarms on /v1/live."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from aiokafka import AIOKafkaProducer

from services.gateway.tests.integration.conftest import (
    Stack,
    bearer,
    eventually,
    login,
    unique_imei,
)
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream_events.envelope import Envelope
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import KafkaSettings

pytestmark = pytest.mark.asyncio(loop_scope="session")
CENTER = {"latitude": 48.57, "longitude": 7.75}
BOWTIE = [
    {"latitude": 48.0, "longitude": 7.0},
    {"latitude": 48.1, "longitude": 7.1},
    {"latitude": 48.0, "longitude": 7.1},
    {"latitude": 48.1, "longitude": 7.0},
]


async def fleet_owner(stack: Stack, client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """Headers of a fresh enterprise admin and the id of a device it owns."""
    account_id, email = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label="alarms"
    )

    async def known() -> bool:
        return account_id in stack.gateway.context.directory.accounts

    await eventually(known)
    headers = bearer(await login(client, email))
    device = await client.post(
        "/v1/devices", headers=headers, json={"identifier": unique_imei(), "protocol": "gt06"}
    )
    assert device.status_code == 201, device.text
    return headers, device.json()["device_id"]


async def created(client: httpx.AsyncClient, path: str, headers: Any, body: Any) -> Any:
    """POST once alarm knows the account and device (it learns them through Kafka)."""
    answer: list[httpx.Response] = []

    async def made() -> bool:
        response = await client.post(path, headers=headers, json=body)
        answer[:] = [response]
        return response.status_code != 404

    await eventually(made)
    return answer[0]


async def test_geofences_and_rules_round_trip_through_alarm(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, device_id = await fleet_owner(stack, client)
        body = {"name": "depot", "circle": {"center": CENTER, "radius_m": 300}}
        fence = await created(client, "/v1/geofences", headers, body | {"device_ids": [device_id]})
        assert fence.status_code == 201, fence.text
        url = f"/v1/geofences/{fence.json()['geofence_id']}"
        assert (await client.get(url, headers=headers)).json() == fence.json()
        patched = await client.patch(url, headers=headers, json={"confirm_s": 20})
        assert patched.status_code == 200 and patched.json()["confirm_s"] == 20
        listed = await client.get("/v1/geofences", headers=headers)
        assert [f["geofence_id"] for f in listed.json()["geofences"]] == [
            fence.json()["geofence_id"]
        ]
        rule = await client.post(
            "/v1/alarm-rules",
            headers=headers,
            json={"kind": "overspeed", "speed_limit_kmh": 90, "min_duration_s": 10},
        )
        assert rule.status_code == 201, rule.text
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.get(url, headers=headers)).status_code == 404
        rule_url = f"/v1/alarm-rules/{rule.json()['rule_id']}"
        assert (await client.delete(rule_url, headers=headers)).status_code == 204


async def test_bad_rule_input_is_refused_with_alarms_reason(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, _ = await fleet_owner(stack, client)
        for shape in (
            {"circle": {"center": CENTER, "radius_m": 0}},
            {"polygon": {"vertices": BOWTIE}},
        ):
            response = await created(client, "/v1/geofences", headers, shape)
            assert response.status_code == 422, response.text
            problem = response.json()
            assert problem["type"] == "urn:trackstream:problem:invalid-argument"
            assert problem["detail"] and "\n" not in problem["detail"]
        timer = await client.post(
            "/v1/alarm-rules", headers=headers, json={"kind": "offline", "offline_after_s": 1}
        )
        assert timer.status_code == 422, timer.text
        unknown = await client.post(
            "/v1/geofences",
            headers=headers,
            json={"circle": {"center": CENTER, "radius_m": 5}, "device_ids": ["no-such-device"]},
        )
        assert unknown.status_code == 404


async def publish_alarm(alarm: alarm_pb2.AlarmRaised) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KafkaSettings().bootstrap_servers, acks="all")
    await producer.start()
    try:
        envelope = Envelope(
            type="trackstream.alarm.v1.AlarmRaised", source="/tests/alarm", subject=alarm.device_id
        )
        await producer.send_and_wait(
            "alarm.alarms.v1",
            alarm.SerializeToString(),
            key=alarm.device_id.encode(),
            headers=envelope.to_headers(),
        )
    finally:
        await producer.stop()


async def test_platform_alarms_are_listed_acknowledged_and_streamed(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, device_id = await fleet_owner(stack, client)
        alarm = alarm_pb2.AlarmRaised(
            alarm_id=str(uuid.uuid4()),
            device_id=device_id,
            owner_account_id=stack.gateway.context.directory.devices[device_id].owner_account_id,
            type=alarm_pb2.ALARM_TYPE_OVERSPEED,
            origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
            severity=alarm_pb2.SEVERITY_WARNING,
            alarm_time=to_timestamp(datetime.now(UTC) - timedelta(minutes=1)),
            details={"speed_kmh": "120"},
        )
        token = headers["Authorization"].removeprefix("Bearer ")
        socket = await websockets.connect(f"{stack.ws_url}/v1/live?access_token={token}")
        try:
            assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "subscribed"}
            await publish_alarm(alarm)
            live = json.loads(await asyncio.wait_for(socket.recv(), 10))
        finally:
            await socket.close()
        assert (live["type"], live["origin"], live["alarm_id"]) == (
            "alarm",
            "platform",
            alarm.alarm_id,
        )
        assert live["alarm_type"] == "overspeed" and live["device_id"] == device_id
        await stack.alarm.store.write([alarm])  # what alarm's history writer does
        listed = await client.get(
            f"/v1/devices/{device_id}/alarms", params={"type": "overspeed"}, headers=headers
        )
        assert listed.status_code == 200, listed.text
        assert [a["alarm_id"] for a in listed.json()["alarms"]] == [alarm.alarm_id]
        acked = await client.post(
            f"/v1/devices/{device_id}/alarms/{alarm.alarm_id}/acknowledge",
            headers=headers,
            json={"note": "driver called"},
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged" and acked.json()["note"] == "driver called"
        resolved = await client.post(
            f"/v1/devices/{device_id}/alarms/{alarm.alarm_id}/resolve", headers=headers
        )
        assert resolved.json()["state"] == "resolved"
        missing = await client.post(
            f"/v1/devices/{device_id}/alarms/{uuid.uuid4()}/acknowledge", headers=headers
        )
        assert missing.status_code == 404
