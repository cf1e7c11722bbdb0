"""Notification subscriptions, the delivery log, redelivery and the inbox over the gateway's real
wiring (``bootstrap``), with an in-process fake NotificationService on a real gRPC channel:
mapping, authorisation (404 for what the caller does not see, 403 for what it sees but may not
change), notification's errors, outages; and in-app notifications on the live hub."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.adapters.inbox_feed import INBOX_TYPE, hand_over
from gateway.adapters.live import LiveHub
from gateway.api.alarms import ALARM_TYPES
from gateway.bootstrap import Gateway
from services.gateway.tests.unit.conftest import KEY_HOLDERS, StartGateway, tree
from trackstream.notification.v1 import notification_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.notification.v1 import notification_service_pb2_grpc as pb_grpc

T0 = 1_780_000_000  # 2026-05-28T20:26:40Z


@dataclass
class FakeNotification(pb_grpc.NotificationServiceServicer):
    """Notification's API in miniature: subscriptions per account (secret write-only, kept on
    update unless replaced), a delivery log, an inbox per account."""

    subscriptions: dict[tuple[str, str], pb.Subscription] = field(default_factory=dict)
    deliveries: list[pb.Delivery] = field(default_factory=list)
    inbox: dict[str, list[pb.InboxEntry]] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)
    fail: tuple[grpc.StatusCode, str] | None = None
    counter: int = 0

    @staticmethod
    def public(s: pb.Subscription) -> pb.Subscription:
        shown = pb.Subscription()
        shown.CopyFrom(s)
        shown.ClearField("webhook_secret")
        return shown

    async def _check(self, s: pb.Subscription, context: Any) -> None:
        if self.fail:
            await context.abort(*self.fail)
        if s.webhook_url.startswith("https://10."):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "webhook_url may not point to a private address"
            )

    async def CreateSubscription(self, request: Any, context: Any) -> pb.Subscription:
        self.requests.append(request)
        s = pb.Subscription()
        s.CopyFrom(request.subscription)
        await self._check(s, context)
        self.counter += 1
        s.subscription_id = f"sub{self.counter:03d}"
        self.subscriptions[(s.account_id, s.subscription_id)] = s
        return self.public(s)

    async def _found(self, account_id: str, subscription_id: str, context: Any) -> pb.Subscription:
        if self.fail:
            await context.abort(*self.fail)
        found = self.subscriptions.get((account_id, subscription_id))
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such subscription")
        assert found is not None
        return found

    async def GetSubscription(self, request: Any, context: Any) -> pb.Subscription:
        self.requests.append(request)
        return self.public(await self._found(request.account_id, request.subscription_id, context))

    async def ListSubscriptions(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        found = [s for (a, _), s in self.subscriptions.items() if a == request.account_id]
        return pb.ListSubscriptionsResponse(subscriptions=[self.public(s) for s in found])

    async def UpdateSubscription(self, request: pb.Subscription, context: Any) -> Any:
        self.requests.append(request)
        old = await self._found(request.account_id, request.subscription_id, context)
        s = pb.Subscription()
        s.CopyFrom(request)
        await self._check(s, context)
        s.webhook_secret = s.webhook_secret or old.webhook_secret
        self.subscriptions[(s.account_id, s.subscription_id)] = s
        return self.public(s)

    async def DeleteSubscription(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        await self._found(request.account_id, request.subscription_id, context)
        del self.subscriptions[(request.account_id, request.subscription_id)]
        return pb.DeleteSubscriptionResponse()

    async def ListDeliveries(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        if self.fail:
            await context.abort(*self.fail)
        found = [
            d
            for d in self.deliveries
            if d.account_id == request.account_id
            and (not request.subscription_id or d.subscription_id == request.subscription_id)
            and (not request.alarm_id or d.alarm_id == request.alarm_id)
            and (not request.state or d.state == request.state)
        ]
        return pb.ListDeliveriesResponse(deliveries=found)

    async def RedeliverDelivery(self, request: Any, context: Any) -> pb.Delivery:
        self.requests.append(request)
        for d in self.deliveries:
            if (d.account_id, d.alarm_id, d.subscription_id, d.channel) == (
                request.account_id,
                request.alarm_id,
                request.subscription_id,
                request.channel,
            ):
                if d.state in (pb.DELIVERY_STATE_PENDING, pb.DELIVERY_STATE_RETRYING):
                    await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "still open")
                d.state, d.attempts = pb.DELIVERY_STATE_PENDING, 0
                return d
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such delivery")
        raise AssertionError("unreachable")

    async def ListInbox(self, request: Any, context: Any) -> pb.ListInboxResponse:
        self.requests.append(request)
        entries = [
            e
            for e in self.inbox.get(request.account_id, [])
            if not (request.unread_only and e.read)
        ]
        return pb.ListInboxResponse(entries=entries)

    async def MarkInboxRead(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        mine = {e.notification_id: e for e in self.inbox.get(request.account_id, [])}
        if any(i not in mine for i in request.notification_ids):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such notification")
        for i in request.notification_ids:
            mine[i].read = not request.unread
        return pb.MarkInboxReadResponse()

    async def EraseAccount(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not through the gateway")


@dataclass
class Api:
    client: httpx.AsyncClient
    fake: FakeNotification
    gateway: Gateway
    keys: dict[str, dict[str, str]]

    def __getitem__(self, account_id: str) -> dict[str, str]:
        return self.keys[account_id]


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(gateway_on_fake: StartGateway) -> StartApi:
    """The fake notification service and a gateway (no Kafka) on it; an API key per account
    (and a read-only one of A1)."""

    async def start(*, notification_address: str | None = None) -> Api:
        fake = FakeNotification()
        on = await gateway_on_fake(
            lambda server: pb_grpc.add_NotificationServiceServicer_to_server(fake, server),
            "notification_address",
            address=notification_address,
            key_holders=(*KEY_HOLDERS, ("Aview", "Aview", False), ("A1-ro", "A1", True)),
        )
        return Api(on.client, fake, on.gateway, on.keys)

    return start


def is_hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


def is_forbidden(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.json()["type"].endswith(":forbidden")


FULL = {
    "alarm_types": ["sos", "overspeed", "sos"],
    "device_ids": ["dA1", "dA1u"],
    "channels": ["webhook", "in_app", "email", "push"],
    "email_addresses": ["ops@example.com"],
    "webhook_url": "https://hooks.example.com/in",
    "webhook_secret": "0123456789abcdef",
    "push_tokens": [{"provider": "fcm", "token": "tok-1"}],
    "time_zone": "Europe/Berlin",
    "quiet_hours": {"start_minute": 1320, "end_minute": 360},
    "rate_limits": [{"channel": "email", "max_count": 10, "window_s": 3600}],
    "locale": "de",
    "media": True,
}


# ---------------------------------------------------------------------- subscriptions


async def test_subscription_lifecycle_keeps_the_secret_write_only(start_api: StartApi) -> None:
    api = await start_api()
    created = await api.client.post("/v1/notification-subscriptions", headers=api["A1"], json=FULL)
    assert created.status_code == 201, created.text
    body = created.json()
    assert "webhook_secret" not in body
    assert "0123456789abcdef" not in created.text
    assert body["subscription_id"] == "A1.sub001" and body["account_id"] == "A1"
    assert body["alarm_types"] == ["sos", "overspeed"]  # deduplicated
    assert body["channels"] == ["webhook", "in_app", "email", "push"]
    assert body["quiet_hours"] == {"start_minute": 1320, "end_minute": 360}
    assert body["push_tokens"] == [{"provider": "fcm", "token": "tok-1"}]
    assert body["rate_limits"] == [{"channel": "email", "max_count": 10, "window_s": 3600}]
    assert body["media"] is True and body["command_results"] is False and body["locale"] == "de"
    sent = api.fake.requests[-1].subscription
    assert sent.account_id == "A1" and sent.webhook_secret == "0123456789abcdef"
    assert list(sent.alarm_types) == [ALARM_TYPES["sos"], ALARM_TYPES["overspeed"]]
    assert list(sent.channels) == [
        pb.CHANNEL_WEBHOOK,
        pb.CHANNEL_IN_APP,
        pb.CHANNEL_EMAIL,
        pb.CHANNEL_PUSH,
    ]

    url = "/v1/notification-subscriptions/A1.sub001"
    assert (await api.client.get(url, headers=api["A1"])).json() == body
    patched = await api.client.patch(
        url, headers=api["A1"], json={"channels": ["in_app"], "disabled": True}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["channels"] == ["in_app"] and patched.json()["disabled"] is True
    assert patched.json()["webhook_url"] == "https://hooks.example.com/in"  # untouched
    update = api.fake.requests[-1]
    assert (
        isinstance(update, pb.Subscription) and update.webhook_secret == ""
    )  # kept by notification
    assert api.fake.subscriptions[("A1", "sub001")].webhook_secret == "0123456789abcdef"

    listed = await api.client.get("/v1/notification-subscriptions", headers=api["A1"])
    assert listed.json() == {"subscriptions": [patched.json()], "next_page_token": None}
    assert (await api.client.delete(url, headers=api["A1"])).status_code == 204
    assert is_hidden(await api.client.get(url, headers=api["A1"]))
    assert is_hidden(await api.client.delete(url, headers=api["A1"]))  # notification's NOT_FOUND


async def test_subscriptions_are_paged(start_api: StartApi) -> None:
    api = await start_api()
    for _ in range(3):
        made = await api.client.post(
            "/v1/notification-subscriptions", headers=api["A1"], json={"channels": ["in_app"]}
        )
        assert made.status_code == 201
    first = (
        await api.client.get(
            "/v1/notification-subscriptions", params={"page_size": 2}, headers=api["A1"]
        )
    ).json()
    assert [s["subscription_id"] for s in first["subscriptions"]] == ["A1.sub001", "A1.sub002"]
    second = await api.client.get(
        "/v1/notification-subscriptions",
        params={"page_size": 2, "page_token": first["next_page_token"]},
        headers=api["A1"],
    )
    assert [s["subscription_id"] for s in second.json()["subscriptions"]] == ["A1.sub003"]
    assert second.json()["next_page_token"] is None


async def test_who_may_manage_whose_subscriptions(start_api: StartApi) -> None:
    api = await start_api()
    own = {"channels": ["in_app"]}
    # any role manages its own account's subscriptions
    for name in ("A1u", "Aview", "Aop"):
        made = await api.client.post("/v1/notification-subscriptions", headers=api[name], json=own)
        assert made.status_code == 201, (name, made.text)
        assert made.json()["account_id"] == name
    # an admin those of its subtree, nobody those of another tree or of a parent
    made = await api.client.post(
        "/v1/notification-subscriptions", headers=api["A"], json={**own, "account_id": "A1"}
    )
    assert made.status_code == 201
    asked = len(api.fake.requests)
    for name, account in (("B", "A1"), ("A1", "A"), ("A1u", "A1"), ("Aop", "A1")):
        refused = await api.client.post(
            "/v1/notification-subscriptions", headers=api[name], json={**own, "account_id": account}
        )
        assert is_hidden(refused), (name, account, refused.text)
    url = f"/v1/notification-subscriptions/{made.json()['subscription_id']}"
    for name in ("B", "A1u", "Aop"):
        assert is_hidden(await api.client.get(url, headers=api[name]))
        assert is_hidden(await api.client.patch(url, headers=api[name], json={"disabled": True}))
        assert is_hidden(await api.client.delete(url, headers=api[name]))
    assert len(api.fake.requests) == asked  # refused before notification was asked
    # an admin manages those of a viewer below it, and so does the viewer (its own account)
    below = await api.client.post(
        "/v1/notification-subscriptions", headers=api["A1"], json={**own, "account_id": "A1u"}
    )
    assert below.status_code == 201
    below_url = f"/v1/notification-subscriptions/{below.json()['subscription_id']}"
    assert (await api.client.get(below_url, headers=api["A1u"])).status_code == 200
    assert (
        await api.client.patch(below_url, headers=api["A1u"], json={"disabled": True})
    ).status_code == 200  # its own account: any role
    # a read-only key reads, changes nothing, not even its own account's
    assert (await api.client.get(url, headers=api["A1-ro"])).status_code == 200
    assert is_forbidden(await api.client.patch(url, headers=api["A1-ro"], json={"disabled": True}))
    assert is_forbidden(
        await api.client.post("/v1/notification-subscriptions", headers=api["A1-ro"], json=own)
    )
    # a foreign or malformed id: 404
    for bad in ("B.sub001", "nodot", ".sub001", "A1."):
        got = await api.client.get(f"/v1/notification-subscriptions/{bad}", headers=api["A1"])
        assert is_hidden(got), bad


async def test_devices_and_groups_must_be_of_the_subscribing_accounts_subtree(
    start_api: StartApi,
) -> None:
    api = await start_api()
    post = api.client.post
    path = "/v1/notification-subscriptions"
    ok = await post(path, headers=api["A1"], json={"channels": ["in_app"], "device_ids": ["dA1u"]})
    assert ok.status_code == 201 and ok.json()["device_ids"] == ["dA1u"]
    for account, body in (
        ("A1", {"device_ids": ["dB"]}),  # another tree's device
        ("A1u", {"device_ids": ["dB"]}),  # shared with A1u: visible, but not its own
        ("A1", {"device_ids": ["dA"]}),  # the parent's device
        ("A1", {"device_ids": ["nope"]}),
        ("A1", {"group_account_ids": ["A"]}),  # a group above
        ("A1", {"group_account_ids": ["B"]}),
        ("A1", {"group_account_ids": ["ghost"]}),
    ):
        refused = await post(path, headers=api[account], json={"channels": ["in_app"], **body})
        assert is_hidden(refused), (account, body, refused.text)
    group = await post(
        path, headers=api["A"], json={"channels": ["in_app"], "group_account_ids": ["A1", "A1"]}
    )
    assert group.status_code == 201 and group.json()["group_account_ids"] == ["A1"]
    unknown = await post(
        path, headers=api["A1"], json={"channels": ["in_app"], "alarm_types": ["x"]}
    )
    assert unknown.status_code == 422 and "unknown alarm type" in unknown.json()["detail"]
    invalid: list[dict[str, Any]] = [
        {"channels": []},
        {"channels": ["fax"]},
        {"channels": ["webhook"], "webhook_secret": "short"},
        {"channels": ["in_app"], "quiet_hours": {"start_minute": 1440, "end_minute": 0}},
        {"channels": ["in_app"], "surprise": 1},
        {},
    ]
    for body in invalid:
        bad = await post(path, headers=api["A1"], json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["type"].endswith(":validation-error")


async def test_notifications_refusals_and_outages_are_problems(start_api: StartApi) -> None:
    api = await start_api()
    refused = await api.client.post(
        "/v1/notification-subscriptions",
        headers=api["A1"],
        json={
            "channels": ["webhook"],
            "webhook_url": "https://10.0.0.1/x",
            "webhook_secret": "0123456789abcdef",
        },
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "webhook_url may not point to a private address"
    api.fake.fail = (grpc.StatusCode.UNAVAILABLE, "cassandra down")
    down = await api.client.get("/v1/notification-deliveries", headers=api["A1"])
    assert down.status_code == 503 and down.headers["Retry-After"] == "1"
    assert "cassandra" not in down.text


async def test_no_notification_service_is_503(start_api: StartApi) -> None:
    api = await start_api(notification_address="127.0.0.1:1")
    response = await api.client.get("/v1/notification-subscriptions", headers=api["A1"])
    assert response.status_code == 503
    assert response.json()["type"].endswith(":backend-unavailable")


# ---------------------------------------------------------------------- deliveries


def delivery(account: str, alarm: str, sub: str, channel: int, state: int) -> pb.Delivery:
    return pb.Delivery(
        account_id=account,
        alarm_id=alarm,
        subscription_id=sub,
        channel=channel,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        attempts=6 if state == pb.DELIVERY_STATE_DEAD else 1,
        last_error="webhook answered 500" if state == pb.DELIVERY_STATE_DEAD else "",
        updated_time=Timestamp(seconds=T0),
    )


async def test_the_delivery_log_is_filtered_paged_and_redelivered(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.deliveries = [
        delivery("A1", "al-2", "s1", pb.CHANNEL_WEBHOOK, pb.DELIVERY_STATE_DEAD),
        delivery("A1", "al-1", "s1", pb.CHANNEL_EMAIL, pb.DELIVERY_STATE_SENT),
        delivery("A1", "al-1", "s1", pb.CHANNEL_WEBHOOK, pb.DELIVERY_STATE_SENT),
        delivery("A1", "al-1", "s2", pb.CHANNEL_IN_APP, pb.DELIVERY_STATE_RETRYING),
        delivery("B", "al-9", "s9", pb.CHANNEL_WEBHOOK, pb.DELIVERY_STATE_DEAD),
    ]
    path = "/v1/notification-deliveries"
    first = (await api.client.get(path, params={"page_size": 3}, headers=api["A1"])).json()
    keys = [(d["alarm_id"], d["subscription_id"], d["channel"]) for d in first["deliveries"]]
    assert keys == [
        ("al-1", "A1.s1", "email"),
        ("al-1", "A1.s1", "webhook"),
        ("al-1", "A1.s2", "in_app"),
    ]
    rest = await api.client.get(
        path, params={"page_size": 3, "page_token": first["next_page_token"]}, headers=api["A1"]
    )
    (dead,) = rest.json()["deliveries"]
    assert dead["state"] == "dead" and dead["attempts"] == 6
    assert dead["last_error"] == "webhook answered 500"
    assert dead["updated_time"] == "2026-05-28T20:26:40Z"
    # filters go to notification
    filtered = await api.client.get(
        path,
        params={"subscription_id": "A1.s1", "state": "sent", "alarm_id": "al-1"},
        headers=api["A1"],
    )
    assert [d["channel"] for d in filtered.json()["deliveries"]] == ["email", "webhook"]
    asked = api.fake.requests[-1]
    assert (asked.account_id, asked.subscription_id, asked.alarm_id, asked.state) == (
        "A1",
        "s1",
        "al-1",
        pb.DELIVERY_STATE_SENT,
    )
    # the parent reads it, another tree and a sub-account's viewer do not
    assert (await api.client.get(path, params={"account_id": "A1"}, headers=api["A"])).json()[
        "deliveries"
    ]
    for name, params in (
        ("B", {"account_id": "A1"}),
        ("A1u", {"account_id": "A1"}),
        ("B", {"subscription_id": "A1.s1"}),
        ("A1", {"subscription_id": "A1.s1", "account_id": "A1u"}),  # a contradiction
    ):
        assert is_hidden(await api.client.get(path, params=params, headers=api[name])), name

    redeliver = f"{path}/{dead['delivery_id']}/redeliver"
    for name in ("B", "A1u"):  # B: not its account; A1u: below it
        assert is_hidden(await api.client.post(redeliver, headers=api[name]))
    assert is_forbidden(await api.client.post(redeliver, headers=api["A1-ro"]))
    again = await api.client.post(redeliver, headers=api["A"])
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "pending" and again.json()["attempts"] == 0
    sent = api.fake.requests[-1]
    assert (sent.account_id, sent.alarm_id, sent.subscription_id, sent.channel) == (
        "A1",
        "al-2",
        "s1",
        pb.CHANNEL_WEBHOOK,
    )
    still_open = await api.client.post(redeliver, headers=api["A1"])  # now pending
    assert still_open.status_code == 409
    for forged in ("nope", first["next_page_token"], "eyJrIjoiZGVsaXZlcnkiLCJ2IjoiW10ifQ"):
        got = await api.client.post(f"{path}/{forged}/redeliver", headers=api["A1"])
        assert is_hidden(got), forged


async def test_an_operator_redelivers_a_viewer_does_not(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.deliveries = [
        delivery("Aop", "a", "s", pb.CHANNEL_IN_APP, pb.DELIVERY_STATE_DEAD),
        delivery("Aview", "a", "s", pb.CHANNEL_IN_APP, pb.DELIVERY_STATE_DEAD),
    ]
    for name, allowed in (("Aop", True), ("Aview", False)):
        (listed,) = (await api.client.get("/v1/notification-deliveries", headers=api[name])).json()[
            "deliveries"
        ]
        response = await api.client.post(
            f"/v1/notification-deliveries/{listed['delivery_id']}/redeliver", headers=api[name]
        )
        assert (response.status_code == 200) is allowed, response.text
        if not allowed:
            assert is_forbidden(response)


# ---------------------------------------------------------------------- the inbox


def entry(nid: str, seconds: int, read: bool = False) -> pb.InboxEntry:
    return pb.InboxEntry(
        notification_id=nid,
        alarm_id=f"alarm-{nid}",
        subscription_id="s1",
        title=f"SOS {nid}",
        body="at home",
        read=read,
        created_time=Timestamp(seconds=seconds),
    )


async def test_the_inbox_is_the_callers_own_newest_first(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.inbox["A1"] = [entry("n1", T0), entry("n3", T0 + 20), entry("n2", T0 + 10, True)]
    api.fake.inbox["B"] = [entry("b1", T0)]
    first = (await api.client.get("/v1/inbox", params={"page_size": 2}, headers=api["A1"])).json()
    assert [n["notification_id"] for n in first["notifications"]] == ["n3", "n2"]
    assert first["unread_count"] == 2
    assert first["notifications"][0] == {
        "notification_id": "n3",
        "alarm_id": "alarm-n3",
        "title": "SOS n3",
        "body": "at home",
        "read": False,
        "created_time": "2026-05-28T20:27:00Z",
    }
    rest = await api.client.get(
        "/v1/inbox",
        params={"page_size": 2, "page_token": first["next_page_token"]},
        headers=api["A1"],
    )
    assert [n["notification_id"] for n in rest.json()["notifications"]] == ["n1"]
    unread = await api.client.get("/v1/inbox", params={"unread_only": True}, headers=api["A1"])
    assert [n["notification_id"] for n in unread.json()["notifications"]] == ["n3", "n1"]
    # the parent's own inbox is its own: empty, not A1's
    assert (await api.client.get("/v1/inbox", headers=api["A"])).json()["notifications"] == []
    assert {r.account_id for r in api.fake.requests} == {"A1", "A"}


async def test_marking_read_is_all_or_nothing_and_foreign_ids_are_404(start_api: StartApi) -> None:
    api = await start_api()
    api.fake.inbox["A1"] = [entry("n1", T0), entry("n2", T0 + 1)]
    api.fake.inbox["B"] = [entry("b1", T0)]
    mark = "/v1/inbox/read"
    foreign = await api.client.post(
        mark, headers=api["A1"], json={"notification_ids": ["n1", "b1"]}
    )
    assert is_hidden(foreign)
    assert not any(e.read for e in api.fake.inbox["A1"] + api.fake.inbox["B"])
    ok = await api.client.post(mark, headers=api["A1"], json={"notification_ids": ["n1", "n1"]})
    assert ok.status_code == 204
    assert [e.read for e in api.fake.inbox["A1"]] == [True, False]
    assert list(api.fake.requests[-1].notification_ids) == ["n1"]
    back = await api.client.post(
        mark, headers=api["A1"], json={"notification_ids": ["n1"], "read": False}
    )
    assert back.status_code == 204 and not api.fake.inbox["A1"][0].read
    assert is_forbidden(
        await api.client.post(mark, headers=api["A1-ro"], json={"notification_ids": ["n1"]})
    )
    empty = await api.client.post(mark, headers=api["A1"], json={"notification_ids": []})
    assert empty.status_code == 422


# ---------------------------------------------------------------------- live


def added(account_id: str, nid: str) -> bytes:
    return notification_pb2.InboxNotificationAdded(
        notification_id=nid,
        account_id=account_id,
        subscription_id="s1",
        alarm_id="al-1",
        device_id="dA1",
        title="SOS",
        body="at home",
        created_time=Timestamp(seconds=T0),
    ).SerializeToString()


def test_inbox_events_reach_only_the_sockets_of_their_account() -> None:
    directory = tree()
    hub = LiveHub(queue_size=10)
    a1 = hub.subscribe(lambda d: True, "session-a1", "A1")
    a1_again = hub.subscribe(lambda d: True, "session-a1-phone", "A1")
    parent = hub.subscribe(lambda d: True, "session-a", "A")  # sees A1's devices, not its inbox
    link = hub.subscribe(lambda d: True, "link-1")  # a share link: nobody's inbox
    assert hand_over(hub, directory, INBOX_TYPE, added("A1", "n1"))
    for socket in (a1, a1_again):
        message = json.loads(socket.queue.get_nowait() or "")
        assert message == {
            "type": "notification",
            "notification_id": "n1",
            "subscription_id": "A1.s1",
            "alarm_id": "al-1",
            "device_id": "dA1",
            "title": "SOS",
            "body": "at home",
            "read": False,
            "created_time": "2026-05-28T20:26:40Z",
        }
    assert parent.queue.empty() and link.queue.empty()
    # a disabled account hears nothing; other types are not inbox entries
    node = directory.accounts["A1"]
    directory.put_account(dataclasses.replace(node, disabled=True))
    assert not hand_over(hub, directory, INBOX_TYPE, added("A1", "n2"))
    assert not hand_over(hub, directory, "trackstream.alarm.v1.AlarmRaised", added("A1", "n3"))
    assert a1.queue.empty()
