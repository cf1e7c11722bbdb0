"""Notification subscriptions, the delivery log and redelivery through the gateway against the
notification service whole (real Kafka and Cassandra, a real HTTP receiver on loopback)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.gateway.tests.integration.conftest import Stack, eventually
from services.gateway.tests.integration.test_alarms import fleet_owner
from services.notification.tests.integration.conftest import Receiver, Route
from trackstream.alarm.v1 import alarm_pb2
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECRET = "whsec-0123456789abcdef"


@pytest_asyncio.fixture(loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def raise_alarm(device_id: str, account_id: str) -> str:
    alarm = alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=device_id,
        owner_account_id=account_id,
        type=alarm_pb2.ALARM_TYPE_SOS,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        severity=alarm_pb2.SEVERITY_CRITICAL,
        alarm_time=to_timestamp(datetime.now(UTC)),
    )
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/alarm")
    await publisher.start()
    try:
        await publisher.publish_many([Outgoing("alarm.alarms.v1", alarm, key=device_id)])
    finally:
        await publisher.stop()
    return alarm.alarm_id


async def created(client: httpx.AsyncClient, headers: Any, body: Any) -> httpx.Response:
    """POST once the gateway knows the device (it learns it through Kafka)."""
    answer: list[httpx.Response] = []

    async def made() -> bool:
        response = await client.post("/v1/notification-subscriptions", headers=headers, json=body)
        answer[:] = [response]
        return response.status_code != 404

    await eventually(made)
    return answer[0]


async def test_subscriptions_round_trip_and_the_secret_stays_write_only(
    stack: Stack, receiver: Receiver
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, device_id = await fleet_owner(stack, client)
        made = await created(
            client,
            headers,
            {
                "channels": ["webhook", "in_app"],
                "device_ids": [device_id],
                "webhook_url": f"{receiver.url}/hook",
                "webhook_secret": SECRET,
                "alarm_types": ["sos"],
                "time_zone": "Europe/Berlin",
                "media": True,
            },
        )
        assert made.status_code == 201, made.text
        assert SECRET not in made.text and "webhook_secret" not in made.json()
        url = f"/v1/notification-subscriptions/{made.json()['subscription_id']}"
        got = await client.get(url, headers=headers)
        assert got.json() == made.json() and got.json()["media"] is True
        patched = await client.patch(url, headers=headers, json={"alarm_types": []})
        assert patched.status_code == 200 and patched.json()["alarm_types"] == []
        assert SECRET not in patched.text
        listed = await client.get("/v1/notification-subscriptions", headers=headers)
        assert [s["subscription_id"] for s in listed.json()["subscriptions"]] == [
            made.json()["subscription_id"]
        ]
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.get(url, headers=headers)).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://[fe80::1]/hook",
        "ftp://hooks.example.com/hook",
    ],
)
async def test_webhooks_to_non_public_addresses_are_refused_with_a_problem(
    stack: Stack, url: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, _ = await fleet_owner(stack, client)
        refused = await client.post(
            "/v1/notification-subscriptions",
            headers=headers,
            json={"channels": ["webhook"], "webhook_url": url, "webhook_secret": SECRET},
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert "webhook_url" in refused.json()["detail"]
        listed = await client.get("/v1/notification-subscriptions", headers=headers)
        assert listed.json()["subscriptions"] == []


async def test_a_dead_webhook_is_in_the_log_and_redelivered_once(
    stack: Stack, receiver: Receiver
) -> None:
    receiver.routes["/down"] = Route(status=500)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        headers, device_id = await fleet_owner(stack, client)
        made = await created(
            client,
            headers,
            {
                "channels": ["webhook"],
                "device_ids": [device_id],
                "webhook_url": f"{receiver.url}/down",
                "webhook_secret": SECRET,
            },
        )
        assert made.status_code == 201, made.text
        account_id = made.json()["account_id"]
        alarm_id = await raise_alarm(device_id, account_id)
        params = {"alarm_id": alarm_id, "subscription_id": made.json()["subscription_id"]}

        async def in_state(state: str) -> list[dict[str, Any]]:
            response = await client.get(
                "/v1/notification-deliveries", params={**params, "state": state}, headers=headers
            )
            assert response.status_code == 200, response.text
            deliveries: list[dict[str, Any]] = response.json()["deliveries"]
            return deliveries

        (dead,) = await eventually_value(lambda: in_state("dead"))
        assert dead["channel"] == "webhook" and dead["attempts"] == 2
        assert dead["last_error"] == "webhook answered 500"
        assert str(receiver.port) not in json.dumps(dead)  # no URL in the log
        receiver.routes["/down"] = Route()  # the receiver is back
        redelivered = await client.post(
            f"/v1/notification-deliveries/{dead['delivery_id']}/redeliver", headers=headers
        )
        assert redelivered.status_code == 200, redelivered.text
        (sent,) = await eventually_value(lambda: in_state("sent"))
        assert sent["delivery_id"] == dead["delivery_id"]
        accepted = [r for r in receiver.accepted if r.path == "/down"]
        assert len(accepted) == 1 and json.loads(accepted[0].body)["alarm_id"] == alarm_id


async def eventually_value(check: Any, within: float = 20.0) -> Any:
    found: list[Any] = []

    async def done() -> bool:
        found[:] = [await check()]
        return bool(found[0])

    await eventually(done, within=within)
    return found[0]
