"""Push adapters against local HTTP servers that answer like FCM HTTP v1, APNs and JPush,
including each one's invalid-token error; an invalid token is dropped from the subscription."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from notification.adapters.channels import (
    ApnsClient,
    DeliveryFailed,
    FcmClient,
    JPushClient,
    PushChannel,
)
from notification.domain.model import Channel, DeliveryKey, Notice
from services.notification.tests.integration.conftest import (
    NotificationRunner,
    Receiver,
    Request,
    Route,
    alarm,
    eventually,
    publish_alarms,
    register_device,
    stub,
)
from trackstream.notification.v1 import notification_service_pb2 as pb

GOOD, GONE = "token-good", "token-gone"
NOTICE = Notice("Sos on dev-1", "Sos on dev-1 at 12:00", {"alarm_id": "a1", "speed": 3})


def fcm(request: Request) -> tuple[int, Any]:
    """FCM v1: 200 with the message name, 404 NOT_FOUND + UNREGISTERED for a dead token."""
    assert request.headers["authorization"] == "Bearer fcm-access-token"
    message = json.loads(request.body)["message"]
    assert set(message) == {"token", "notification", "data"}
    assert all(isinstance(v, str) for v in message["data"].values())  # FCM: string values
    if message["token"] == GONE:
        return 404, {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED",
                    }
                ],
            }
        }
    if message["token"] == "token-quota":
        return 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}
    return 200, {"name": "projects/demo/messages/0:1500415314455276%31bd1c9631bd1c96"}


def apns(request: Request) -> tuple[int, Any]:
    """APNs: 200 empty, 410 Unregistered or 400 BadDeviceToken with a reason."""
    assert request.headers["apns-topic"] == "com.example.fleet"
    assert request.headers["authorization"] == "bearer apns-jwt"
    body = json.loads(request.body)
    assert body["aps"]["alert"]["title"] == NOTICE.title
    token = request.path.rsplit("/", 1)[-1]
    if token == GONE:
        return 410, {"reason": "Unregistered", "timestamp": 1700000000000}
    if token == "token-bad":
        return 400, {"reason": "BadDeviceToken"}
    return 200, {}


def jpush(request: Request) -> tuple[int, Any]:
    """JPush v3: basic auth appKey:masterSecret; 1011 when no device has that id."""
    expected = base64.b64encode(b"app-key:master-secret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    body = json.loads(request.body)
    assert body["platform"] == "all"
    (registration_id,) = body["audience"]["registration_id"]
    if registration_id == GONE:
        return 400, {"error": {"code": 1011, "message": "cannot find user by this audience"}}
    return 200, {"sendno": "0", "msg_id": "54043195528459348"}


@pytest.fixture
async def providers(receiver: Receiver) -> Receiver:
    receiver.routes["/v1/projects/demo/messages:send"] = Route(responder=fcm)
    receiver.routes["/3/device/"] = Route(responder=apns)
    receiver.routes["/v3/push"] = Route(responder=jpush)
    return receiver


def channel_for(http: httpx.AsyncClient, url: str, dropped: list[str]) -> PushChannel:
    async def drop(subscription_id: str, token: pb.PushToken) -> None:
        dropped.append(token.token)

    return PushChannel(
        [
            FcmClient(http, url=url, project_id="demo", token="fcm-access-token"),
            ApnsClient(http, url=url, topic="com.example.fleet", token="apns-jwt"),
            JPushClient(http, url=url, app_key="app-key", master_secret="master-secret"),
        ],
        drop,
    )


@pytest.mark.parametrize(
    "provider", [pb.PUSH_PROVIDER_FCM, pb.PUSH_PROVIDER_APNS, pb.PUSH_PROVIDER_JPUSH]
)
async def test_each_provider_delivers_and_an_invalid_token_is_dropped(
    providers: Receiver, provider: Any
) -> None:
    dropped: list[str] = []
    async with httpx.AsyncClient() as http:
        push = channel_for(http, providers.url, dropped)
        subscription = pb.Subscription(
            subscription_id="s1",
            push_tokens=[
                pb.PushToken(provider=provider, token=GOOD),
                pb.PushToken(provider=provider, token=GONE),
            ],
        )
        key = DeliveryKey("a1", "s1", Channel.PUSH)
        await push.send(key, subscription, NOTICE, datetime.now(UTC))
    assert dropped == [GONE]
    assert len(providers.accepted) == 1


async def test_only_invalid_tokens_is_a_permanent_failure_and_provider_errors_retry(
    providers: Receiver,
) -> None:
    dropped: list[str] = []
    async with httpx.AsyncClient() as http:
        push = channel_for(http, providers.url, dropped)
        key = DeliveryKey("a1", "s1", Channel.PUSH)
        gone = pb.Subscription(
            subscription_id="s1",
            push_tokens=[pb.PushToken(provider=pb.PUSH_PROVIDER_APNS, token="token-bad")],
        )
        with pytest.raises(DeliveryFailed) as permanent:
            await push.send(key, gone, NOTICE, datetime.now(UTC))
        assert permanent.value.permanent
        busy = pb.Subscription(
            subscription_id="s1",
            push_tokens=[pb.PushToken(provider=pb.PUSH_PROVIDER_FCM, token="token-quota")],
        )
        with pytest.raises(DeliveryFailed) as retry:
            await push.send(key, busy, NOTICE, datetime.now(UTC))
        assert not retry.value.permanent
        assert "429" in retry.value.reason
    assert dropped == ["token-bad"]


async def test_the_service_drops_an_invalid_token_from_the_subscription(
    notification_service: NotificationRunner, providers: Receiver
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start(
        fcm_url=providers.url,
        fcm_project_id="demo",
        fcm_access_token="fcm-access-token",
    )
    channel, api = stub(app)
    try:
        created = await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_PUSH],
                    push_tokens=[
                        pb.PushToken(provider=pb.PUSH_PROVIDER_FCM, token=GOOD),
                        pb.PushToken(provider=pb.PUSH_PROVIDER_FCM, token=GONE),
                    ],
                )
            )
        )
        await publish_alarms([alarm(device, account)])

        async def tokens() -> list[str] | None:
            found = await api.GetSubscription(
                pb.GetSubscriptionRequest(
                    account_id=account, subscription_id=created.subscription_id
                )
            )
            left = [t.token for t in found.push_tokens]
            return left if len(left) == 1 else None

        assert await eventually(tokens) == [GOOD]
        log = await api.ListDeliveries(pb.ListDeliveriesRequest(account_id=account))
        assert [d.state for d in log.deliveries] == [pb.DELIVERY_STATE_SENT]
    finally:
        await channel.close()
