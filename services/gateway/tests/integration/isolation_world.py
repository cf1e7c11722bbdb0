"""The two trees of the tenant-isolation tests, and the route table they run over.

    platform
    ├── A   distributor, ADMIN
    │   └── A1  enterprise, ADMIN
    │       └── Av  end user, VIEWER
    └── B   enterprise, ADMIN (an unrelated customer)

Every route of the app must have a row in ``ROUTES`` (a test compares the two), which says
what the route acts on and builds a request against a :class:`Target` (a device of some
account, with a share link, a command, an API key and a dashcam picture of its own, fresh for
each test).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from fastapi.routing import APIRoute, APIWebSocketRoute

from alarm.adapters.store import AlarmStore
from gateway.api.app import create_app
from gateway.api.notifications import delivery_id
from gateway.context import GatewayContext
from media.domain.jimi import JimiUpload
from media.handlers import MediaApp
from notification.adapters.store import NotificationStore
from notification.domain.model import Channel as NotificationChannel
from notification.domain.model import DeliveryKey, Notice
from notification.domain.model import State as DeliveryState
from services.gateway.tests.integration.conftest import bearer, eventually, unique_imei
from trackstream.alarm.v1 import alarm_pb2
from trackstream.notification.v1 import notification_service_pb2 as npb
from trackstream_events.timestamps import to_timestamp

READ, COMMAND, MANAGE = "read", "command", "manage"
#: any role on its own account, ADMIN on the other accounts of its subtree (subscriptions)
OWN = "own"


@dataclass
class Party:
    account_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class World:
    parties: dict[str, Party]
    #: alarm's history store: the targets' alarms are written straight into it
    alarms: AlarmStore
    #: notification's delivery log: the targets' dead deliveries are claimed straight in it
    notifications: NotificationStore | None = None
    #: who manages the devices of each party (an admin at or above it)
    admin_of: dict[str, str] = field(
        default_factory=lambda: {"A": "A", "A1": "A1", "Av": "A1", "B": "B"}
    )
    #: the media service: each target's device gets a picture through it
    media: MediaApp | None = None

    def __getitem__(self, name: str) -> Party:
        return self.parties[name]


@dataclass
class Target:
    owner: str
    account_id: str
    device_id: str
    link_id: str
    link_token: str
    command_id: str
    key_id: str
    geofence_id: str
    rule_id: str
    alarm_id: str
    #: an account of neither tree the device is shared with (unsharing needs a share)
    other_account_id: str
    caller_account_id: str = ""
    #: a picture of the device in the media catalogue (and the S3 store)
    media_id: str = ""
    #: the device's IMEI
    imei: str = ""
    #: an in-app notification subscription of the account bound to the device, and a dead
    #: delivery of it (for redelivery)
    subscription_id: str = ""
    delivery_id: str = ""


async def make_target(client: httpx.AsyncClient, world: World, owner: str, other: str) -> Target:
    """A fresh device of ``owner``'s account with a share link, a command and an API key."""
    admin = world[world.admin_of[owner]]
    account_id = world[owner].account_id
    imei = unique_imei()
    device = await client.post(
        "/v1/devices",
        headers=admin.headers,
        json={"identifier": imei, "protocol": "gt06", "owner_account_id": account_id},
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["device_id"]
    link, command, shared, key = await asyncio.gather(
        client.post(
            f"/v1/devices/{device_id}/share-links",
            headers=admin.headers,
            json={"expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        ),
        client.post(
            f"/v1/devices/{device_id}/commands", headers=admin.headers, json={"kind": "engine_stop"}
        ),
        client.post(
            f"/v1/devices/{device_id}/shares",
            headers=admin.headers,
            json={"account_id": world[other].account_id},
        ),
        client.post(
            "/v1/api-keys", headers=admin.headers, json={"name": "matrix", "account_id": account_id}
        ),
    )
    assert link.status_code == 201, link.text
    assert command.status_code == 202, command.text
    assert shared.status_code == 200, shared.text
    assert key.status_code == 201, key.text
    geofence, rule = await asyncio.gather(
        _bound(client, admin, "/v1/geofences", account_id, device_id, CIRCLE),
        _bound(client, admin, "/v1/alarm-rules", account_id, device_id, {"kind": "ignition"}),
    )
    alarm = alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=device_id,
        owner_account_id=account_id,
        type=alarm_pb2.ALARM_TYPE_IGNITION_ON,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        severity=alarm_pb2.SEVERITY_INFO,
        alarm_time=to_timestamp(datetime.now(UTC) - timedelta(minutes=5)),
        rule_id=rule["rule_id"].rpartition(".")[2],
    )
    await world.alarms.write([alarm])
    media_id = await _picture_of(world.media, imei) if world.media is not None else ""
    subscription = await _subscribed(client, admin, account_id, device_id)
    dead = await _dead_delivery(world, account_id, subscription["subscription_id"], alarm.alarm_id)
    return Target(
        owner=owner,
        account_id=account_id,
        device_id=device_id,
        link_id=link.json()["link_id"],
        link_token=link.json()["token"],
        command_id=command.json()["command_id"],
        key_id=key.json()["key"]["key_id"],
        geofence_id=geofence["geofence_id"],
        rule_id=rule["rule_id"],
        alarm_id=alarm.alarm_id,
        other_account_id=world[other].account_id,
        media_id=media_id,
        imei=imei,
        subscription_id=subscription["subscription_id"],
        delivery_id=dead,
    )


IN_APP = {"channels": ["in_app"]}


async def _subscribed(
    client: httpx.AsyncClient, admin: Party, account_id: str, device_id: str
) -> dict[str, Any]:
    """An in-app subscription of the account bound to the device, once the gateway knows the
    device; a 503 (notification's store slow on the shared machine) is tried again too."""
    created: dict[str, Any] = {}

    async def made() -> bool:
        response = await client.post(
            "/v1/notification-subscriptions",
            headers=admin.headers,
            json={**IN_APP, "account_id": account_id, "device_ids": [device_id]},
        )
        assert response.status_code in (201, 404, 503), response.text
        created.update(response.json() if response.status_code == 201 else {})
        return response.status_code == 201

    await eventually(made, within=30)
    return created


async def _dead_delivery(world: World, account_id: str, subscription_id: str, alarm_id: str) -> str:
    """A delivery of the subscription that ended dead, claimed straight in notification's log;
    its id as the gateway shows it."""
    assert world.notifications is not None
    own_id = subscription_id.rpartition(".")[2]
    await world.notifications.claim(
        DeliveryKey(alarm_id, own_id, NotificationChannel.IN_APP),
        account_id=account_id,
        state=DeliveryState.DEAD,
        notice=Notice(title="matrix", body="matrix", document={}),
        now=datetime.now(UTC),
    )
    return delivery_id(
        npb.Delivery(
            account_id=account_id,
            subscription_id=own_id,
            alarm_id=alarm_id,
            channel=npb.CHANNEL_IN_APP,
        )
    )


async def _picture_of(media: MediaApp, imei: str) -> str:
    """A Jimi-style upload of the device's dashcam, once media knows the device (it learns it
    from identity's registry topic); its media id."""

    async def known() -> bool:
        return media.devices.device_of(imei) is not None

    await eventually(known)
    record = await media.accept_upload(
        JimiUpload(
            imei=imei,
            content_type="image/jpeg",
            data=b"\xff\xd8" + uuid.uuid4().bytes + b"\xff\xd9",
            filename="matrix.jpg",
        ),
        now=datetime.now(UTC),
    )
    return record.media_id


CIRCLE = {"circle": {"center": {"latitude": 48.57, "longitude": 7.75}, "radius_m": 300.0}}


async def _bound(
    client: httpx.AsyncClient,
    admin: Party,
    path: str,
    account_id: str,
    device_id: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """A geofence or rule of the account bound to the device, once alarm knows the device (it
    learns it from identity's registry topic)."""
    created: dict[str, Any] = {}

    async def made() -> bool:
        response = await client.post(
            path,
            headers=admin.headers,
            json={**body, "account_id": account_id, "device_ids": [device_id]},
        )
        assert response.status_code in (201, 404), response.text
        created.update(response.json() if response.status_code == 201 else {})
        return response.status_code == 201

    await eventually(made)
    return created


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Any = None
    json: Any = None


@dataclass(frozen=True)
class Row:
    #: device, account, command, link, api_key, geofence, rule, subscription, delivery,
    #: listing, self, public, websocket, no_tenant_data (authenticated, but about nobody's
    #: data: geocoding lookups), or elsewhere (acting on a party of the world would end it,
    #: or it needs a target the world does not make: tested in its own module)
    acts_on: str
    need: str
    build: Callable[[Target], Call] | None = None
    why_not_in_matrix: str = ""


def _day() -> dict[str, str]:
    end = datetime.now(UTC)
    return {"start": (end - timedelta(days=1)).isoformat(), "end": end.isoformat()}


def _alarm_day() -> dict[str, str]:
    end = datetime.now(UTC)
    return {"from": (end - timedelta(days=1)).isoformat(), "to": end.isoformat()}


def _dev(method: str, suffix: str = "", **kw: Any) -> Callable[[Target], Call]:
    return lambda t: Call(method, f"/v1/devices/{t.device_id}{suffix}", **kw)


ROUTES: dict[tuple[str, str], Row] = {
    # ---- privacy: erasure of a device (a fresh target each time) and of an account
    ("POST", "/v1/devices/{device_id}/erasure"): Row("device", MANAGE, _dev("POST", "/erasure")),
    ("POST", "/v1/accounts/{account_id}/erasure"): Row(
        "elsewhere",
        MANAGE,
        lambda t: Call("POST", f"/v1/accounts/{t.account_id}/erasure"),
        "would erase a party of the world: test_erasure.py, on fresh accounts",
    ),
    ("GET", "/v1/erasures/{request_id}"): Row(
        "public", READ, why_not_in_matrix="the request id is the capability: test_erasure.py"
    ),
    ("POST", "/v1/accounts/{account_id}/exports"): Row(
        "account", READ, lambda t: Call("POST", f"/v1/accounts/{t.account_id}/exports")
    ),
    ("GET", "/v1/exports/{export_id}"): Row(
        "elsewhere",
        READ,
        why_not_in_matrix="needs an export: test_privacy_api.py (isolation), test_erasure.py",
    ),
    ("GET", "/v1/privacy/certificate-keys"): Row(
        "public", READ, why_not_in_matrix="public keys that verify certificates"
    ),
    # ---- public or about the caller itself: covered elsewhere, not by a foreign target
    ("POST", "/v1/auth/token"): Row("public", READ, why_not_in_matrix="login, no caller yet"),
    ("POST", "/v1/auth/refresh"): Row(
        "public", READ, why_not_in_matrix="holder of a refresh token"
    ),
    ("GET", "/.well-known/jwks.json"): Row("public", READ, why_not_in_matrix="public keys"),
    ("GET", "/v1/shared/{token}/position"): Row(
        "public", READ, why_not_in_matrix="share links: test_share_links_*"
    ),
    ("WS", "/v1/shared/{token}/live"): Row(
        "websocket", READ, why_not_in_matrix="test_shared_live_socket_*"
    ),
    ("WS", "/v1/live"): Row("websocket", READ, why_not_in_matrix="test_live_socket_*"),
    ("POST", "/v1/auth/revoke"): Row(
        "self", MANAGE, lambda t: Call("POST", "/v1/auth/revoke"), "ends the caller's own session"
    ),
    ("GET", "/v1/accounts/me"): Row(
        "self", READ, lambda t: Call("GET", "/v1/accounts/me"), "the caller's own account"
    ),
    # ---- no tenant data: any caller may ask; only refused without a (valid) credential
    ("GET", "/v1/geocode/reverse"): Row(
        "no_tenant_data",
        READ,
        lambda t: Call("GET", "/v1/geocode/reverse", params={"latitude": 48.57, "longitude": 7.75}),
        "a lookup in geocoding's dataset: test_geocoding.py",
    ),
    ("GET", "/v1/places"): Row(
        "no_tenant_data",
        READ,
        lambda t: Call("GET", "/v1/places", params={"q": "Strasbourg"}),
        "a lookup in geocoding's dataset: test_geocoding.py",
    ),
    # ---- lists: a foreign caller's list does not hold the target
    ("GET", "/v1/devices"): Row(
        "listing", READ, lambda t: Call("GET", "/v1/devices", params={"page_size": 500})
    ),
    # ---- accounts
    ("POST", "/v1/accounts"): Row(
        "account",
        MANAGE,
        lambda t: Call(
            "POST",
            "/v1/accounts",
            json={
                "parent_account_id": t.account_id,
                "kind": "end_user",
                "email": f"child-{uuid.uuid4().hex[:10]}@example.org",
                "password": "a long enough password",
                "display_name": "Child",
            },
        ),
    ),
    ("GET", "/v1/accounts/{account_id}"): Row(
        "account", READ, lambda t: Call("GET", f"/v1/accounts/{t.account_id}")
    ),
    ("PATCH", "/v1/accounts/{account_id}"): Row(
        "account",
        MANAGE,
        lambda t: Call("PATCH", f"/v1/accounts/{t.account_id}", json={"display_name": "renamed"}),
    ),
    ("GET", "/v1/accounts/{account_id}/sub-accounts"): Row(
        "account", READ, lambda t: Call("GET", f"/v1/accounts/{t.account_id}/sub-accounts")
    ),
    ("GET", "/v1/accounts/{account_id}/retention"): Row(
        "account", READ, lambda t: Call("GET", f"/v1/accounts/{t.account_id}/retention")
    ),
    ("PUT", "/v1/accounts/{account_id}/retention"): Row(
        "account",
        MANAGE,
        lambda t: Call("PUT", f"/v1/accounts/{t.account_id}/retention", json={"media_days": 30}),
    ),
    ("POST", "/v1/api-keys"): Row(
        "account",
        MANAGE,
        lambda t: Call("POST", "/v1/api-keys", json={"name": "k", "account_id": t.account_id}),
    ),
    ("GET", "/v1/api-keys"): Row(
        "account", READ, lambda t: Call("GET", "/v1/api-keys", params={"account_id": t.account_id})
    ),
    ("DELETE", "/v1/api-keys/{key_id}"): Row(
        "api_key", MANAGE, lambda t: Call("DELETE", f"/v1/api-keys/{t.key_id}")
    ),
    # ---- devices
    ("POST", "/v1/devices"): Row(
        "account",
        MANAGE,
        lambda t: Call(
            "POST",
            "/v1/devices",
            json={
                "identifier": unique_imei(),
                "protocol": "gt06",
                "owner_account_id": t.account_id,
            },
        ),
    ),
    ("GET", "/v1/devices/{device_id}"): Row("device", READ, _dev("GET")),
    ("PATCH", "/v1/devices/{device_id}"): Row("device", MANAGE, _dev("PATCH", json={"name": "x"})),
    ("POST", "/v1/devices/{device_id}/transfer"): Row(
        "device",
        MANAGE,
        lambda t: Call(
            "POST",
            f"/v1/devices/{t.device_id}/transfer",
            json={"new_owner_account_id": t.caller_account_id},
        ),
    ),
    ("POST", "/v1/devices/{device_id}/shares"): Row(
        "device",
        MANAGE,
        lambda t: Call(
            "POST", f"/v1/devices/{t.device_id}/shares", json={"account_id": t.other_account_id}
        ),
    ),
    ("DELETE", "/v1/devices/{device_id}/shares/{account_id}"): Row(
        "device",
        MANAGE,
        lambda t: Call("DELETE", f"/v1/devices/{t.device_id}/shares/{t.other_account_id}"),
    ),
    ("POST", "/v1/devices/{device_id}/share-links"): Row(
        "device",
        MANAGE,
        lambda t: Call(
            "POST",
            f"/v1/devices/{t.device_id}/share-links",
            json={"expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        ),
    ),
    ("DELETE", "/v1/share-links/{link_id}"): Row(
        "link", MANAGE, lambda t: Call("DELETE", f"/v1/share-links/{t.link_id}")
    ),
    ("GET", "/v1/devices/{device_id}/last-position"): Row(
        "device", READ, _dev("GET", "/last-position")
    ),
    ("GET", "/v1/positions/last"): Row(
        "device",
        READ,
        lambda t: Call("GET", "/v1/positions/last", params=[("device_id", t.device_id)]),
    ),
    ("POST", "/v1/devices/{device_id}/commands"): Row(
        "device", COMMAND, _dev("POST", "/commands", json={"kind": "engine_resume"})
    ),
    ("GET", "/v1/commands/{command_id}"): Row(
        "command", READ, lambda t: Call("GET", f"/v1/commands/{t.command_id}")
    ),
    # ---- geofences and alarm rules of an account, and alarms of a device
    ("POST", "/v1/geofences"): Row(
        "account",
        MANAGE,
        lambda t: Call("POST", "/v1/geofences", json={**CIRCLE, "account_id": t.account_id}),
    ),
    ("GET", "/v1/geofences"): Row(
        "account", READ, lambda t: Call("GET", "/v1/geofences", params={"account_id": t.account_id})
    ),
    ("GET", "/v1/geofences/{geofence_id}"): Row(
        "geofence", READ, lambda t: Call("GET", f"/v1/geofences/{t.geofence_id}")
    ),
    ("PATCH", "/v1/geofences/{geofence_id}"): Row(
        "geofence",
        MANAGE,
        lambda t: Call("PATCH", f"/v1/geofences/{t.geofence_id}", json={"name": "renamed"}),
    ),
    ("DELETE", "/v1/geofences/{geofence_id}"): Row(
        "geofence", MANAGE, lambda t: Call("DELETE", f"/v1/geofences/{t.geofence_id}")
    ),
    ("POST", "/v1/alarm-rules"): Row(
        "account",
        MANAGE,
        lambda t: Call(
            "POST", "/v1/alarm-rules", json={"kind": "ignition", "account_id": t.account_id}
        ),
    ),
    ("GET", "/v1/alarm-rules"): Row(
        "account",
        READ,
        lambda t: Call("GET", "/v1/alarm-rules", params={"account_id": t.account_id}),
    ),
    ("GET", "/v1/alarm-rules/{rule_id}"): Row(
        "rule", READ, lambda t: Call("GET", f"/v1/alarm-rules/{t.rule_id}")
    ),
    ("PATCH", "/v1/alarm-rules/{rule_id}"): Row(
        "rule",
        MANAGE,
        lambda t: Call("PATCH", f"/v1/alarm-rules/{t.rule_id}", json={"enabled": False}),
    ),
    ("DELETE", "/v1/alarm-rules/{rule_id}"): Row(
        "rule", MANAGE, lambda t: Call("DELETE", f"/v1/alarm-rules/{t.rule_id}")
    ),
    ("GET", "/v1/devices/{device_id}/alarms"): Row(
        "device", READ, lambda t: _dev("GET", "/alarms", params=_alarm_day())(t)
    ),
    ("POST", "/v1/devices/{device_id}/alarms/{alarm_id}/acknowledge"): Row(
        "device",
        COMMAND,
        lambda t: _dev("POST", f"/alarms/{t.alarm_id}/acknowledge", json={"note": "seen"})(t),
    ),
    ("POST", "/v1/devices/{device_id}/alarms/{alarm_id}/resolve"): Row(
        "device", COMMAND, lambda t: _dev("POST", f"/alarms/{t.alarm_id}/resolve")(t)
    ),
    # ---- media
    ("GET", "/v1/devices/{device_id}/media"): Row(
        "device", READ, lambda t: _dev("GET", "/media", params=_alarm_day())(t)
    ),
    ("GET", "/v1/devices/{device_id}/alarms/{alarm_id}/media"): Row(
        "device", READ, lambda t: _dev("GET", f"/alarms/{t.alarm_id}/media")(t)
    ),
    ("GET", "/v1/devices/{device_id}/media/{media_id}/download-url"): Row(
        "device", READ, lambda t: _dev("GET", f"/media/{t.media_id}/download-url")(t)
    ),
    ("DELETE", "/v1/devices/{device_id}/media/{media_id}"): Row(
        "device", COMMAND, lambda t: _dev("DELETE", f"/media/{t.media_id}")(t)
    ),
    ("POST", "/v1/devices/{device_id}/media/capture"): Row(
        "device",
        COMMAND,
        lambda t: _dev("POST", "/media/capture", json={"kind": "video", "duration_s": 5})(t),
    ),
    # ---- notification subscriptions and the delivery log of an account; the caller's inbox
    ("POST", "/v1/notification-subscriptions"): Row(
        "account",
        OWN,
        lambda t: Call(
            "POST", "/v1/notification-subscriptions", json={**IN_APP, "account_id": t.account_id}
        ),
    ),
    ("GET", "/v1/notification-subscriptions"): Row(
        "account",
        READ,
        lambda t: Call(
            "GET", "/v1/notification-subscriptions", params={"account_id": t.account_id}
        ),
    ),
    ("GET", "/v1/notification-subscriptions/{subscription_id}"): Row(
        "subscription",
        READ,
        lambda t: Call("GET", f"/v1/notification-subscriptions/{t.subscription_id}"),
    ),
    ("PATCH", "/v1/notification-subscriptions/{subscription_id}"): Row(
        "subscription",
        OWN,
        lambda t: Call(
            "PATCH",
            f"/v1/notification-subscriptions/{t.subscription_id}",
            json={"alarm_types": ["sos"]},
        ),
    ),
    ("DELETE", "/v1/notification-subscriptions/{subscription_id}"): Row(
        "subscription",
        OWN,
        lambda t: Call("DELETE", f"/v1/notification-subscriptions/{t.subscription_id}"),
    ),
    ("GET", "/v1/notification-deliveries"): Row(
        "account",
        READ,
        lambda t: Call("GET", "/v1/notification-deliveries", params={"account_id": t.account_id}),
    ),
    ("POST", "/v1/notification-deliveries/{delivery_id}/redeliver"): Row(
        "delivery",
        COMMAND,
        lambda t: Call("POST", f"/v1/notification-deliveries/{t.delivery_id}/redeliver"),
    ),
    ("GET", "/v1/inbox"): Row(
        "self",
        READ,
        lambda t: Call("GET", "/v1/inbox"),
        "the caller's own inbox: test_inbox_events_reach_only_their_account",
    ),
    ("POST", "/v1/inbox/read"): Row(
        "self",
        READ,
        lambda t: Call("POST", "/v1/inbox/read", json={"notification_ids": [t.alarm_id]}),
        "the caller's own inbox; foreign ids: test_inbox_events_reach_only_their_account",
    ),
    # ---- history
    ("GET", "/v1/devices/{device_id}/track"): Row(
        "device", READ, lambda t: _dev("GET", "/track", params=_day())(t)
    ),
    ("GET", "/v1/devices/{device_id}/trips"): Row(
        "device", READ, lambda t: _dev("GET", "/trips", params=_day())(t)
    ),
    ("GET", "/v1/devices/{device_id}/stops"): Row(
        "device", READ, lambda t: _dev("GET", "/stops", params=_day())(t)
    ),
    ("GET", "/v1/devices/{device_id}/summary"): Row(
        "device",
        READ,
        lambda t: _dev("GET", "/summary", params={"day": "2026-11-28", "timezone": "UTC"})(t),
    ),
    ("GET", "/v1/devices/{device_id}/overspeeds"): Row(
        "device", READ, lambda t: _dev("GET", "/overspeeds", params=_day() | {"limit_kmh": 90})(t)
    ),
    ("GET", "/v1/devices/{device_id}/export"): Row(
        "device", READ, lambda t: _dev("GET", "/export", params=_day() | {"format": "gpx"})(t)
    ),
}


def _walk(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found += [(method, prefix + route.path) for method in sorted(route.methods or ())]
        elif isinstance(route, APIWebSocketRoute):
            found.append(("WS", prefix + route.path))
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            context = getattr(route, "include_context", None)
            found += _walk(route.original_router.routes, prefix + getattr(context, "prefix", ""))
    return found


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves (WebSockets as "WS"), from the app itself."""
    return _walk(create_app(cast(GatewayContext, None)).routes)


def in_matrix(route: tuple[str, str]) -> bool:
    row = ROUTES.get(route)
    return row is None or row.acts_on not in (
        "public",
        "self",
        "websocket",
        "no_tenant_data",
        "elsewhere",
    )


async def send(client: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    return await client.request(
        call.method, call.path, params=call.params, json=call.json, headers=headers
    )
