"""Tenant isolation, for every route of the app and both WebSockets (see isolation_world)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from services.gateway.tests.integration.conftest import (
    Stack,
    bearer,
    eventually,
    login,
)
from services.gateway.tests.integration.isolation_world import (
    COMMAND,
    MANAGE,
    OWN,
    READ,
    ROUTES,
    Party,
    Target,
    World,
    app_routes,
    in_matrix,
    make_target,
    send,
)
from services.gateway.tests.integration.live_helpers import publish_positions, received
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

pytestmark = pytest.mark.asyncio(loop_scope="session")
MATRIX = [route for route in app_routes() if in_matrix(route)]
HTTP_WITH_CALLER = [
    r for r in app_routes() if r[0] != "WS" and ROUTES.get(r, None) and ROUTES[r].build
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(stack: Stack) -> AsyncIterator[World]:
    ids: dict[str, tuple[str, str]] = {}
    ids["A"] = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_DISTRIBUTOR, label="A"
    )
    ids["A1"] = await stack.create_account(ids["A"][0], apb.ACCOUNT_KIND_ENTERPRISE, label="A1")
    ids["Av"] = await stack.create_account(
        ids["A1"][0], apb.ACCOUNT_KIND_END_USER, apb.ACCOUNT_ROLE_VIEWER, label="Av"
    )
    ids["B"] = await stack.create_account(stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label="B")
    ids["S"] = await stack.create_account(stack.platform_id, apb.ACCOUNT_KIND_ENTERPRISE, label="S")

    async def known() -> bool:
        return all(i in stack.gateway.context.directory.accounts for i, _ in ids.values())

    await eventually(known)  # created straight in identity: they arrive through Kafka
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        parties = {
            name: Party(account_id, email, await login(client, email))
            for name, (account_id, email) in ids.items()
        }
    assert stack.notification is not None
    yield World(
        parties,
        stack.alarm.store,
        notifications=stack.notification.store,
        media=stack.media.app if stack.media else None,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as c:
        yield c


def is_ok(response: httpx.Response) -> bool:
    if response.status_code < 300:
        return True
    # a visible device that has not reported yet: a different problem than "no such device"
    return response.status_code == 404 and response.json()["type"].endswith(":no-position")


def is_hidden(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json()["type"].endswith(":not-found")


_READ_TARGETS: dict[str, Target] = {}


async def target_for(
    client: httpx.AsyncClient, world: World, owner: str, caller: str, *, fresh: bool = True
) -> Target:
    """A target of ``owner``; fresh unless only read (reads change nothing, so they share)."""
    if not fresh and owner in _READ_TARGETS:
        target = _READ_TARGETS[owner]
    else:
        target = await make_target(client, world, owner, "S")
        if not fresh:
            _READ_TARGETS[owner] = target
    return Target(**{**vars(target), "caller_account_id": world[caller].account_id})


async def listed(client: httpx.AsyncClient, party: Party) -> set[str]:
    response = await client.get("/v1/devices", params={"page_size": 500}, headers=party.headers)
    assert response.status_code == 200, response.text
    return {d["device_id"] for d in response.json()["devices"]}


async def test_every_route_has_a_row() -> None:
    routes = set(app_routes())
    assert routes - set(ROUTES) == set(), "new routes need a row in isolation_world.ROUTES"
    assert set(ROUTES) - routes == set(), "rows for routes that no longer exist"


@pytest.mark.parametrize("route", MATRIX, ids=" ".join)
async def test_another_tree_cannot_read_or_act(
    route: tuple[str, str], world: World, client: httpx.AsyncClient
) -> None:
    row = ROUTES[route]
    target = await target_for(client, world, "A", "B", fresh=row.need != READ)
    if row.acts_on == "listing":
        assert target.device_id not in await listed(client, world["B"])
        return
    assert row.build is not None
    response = await send(client, row.build(target), world["B"].headers)
    assert is_hidden(response), (response.status_code, response.text)


@pytest.mark.parametrize("route", MATRIX, ids=" ".join)
async def test_a_distributor_reaches_its_sub_accounts(
    route: tuple[str, str], world: World, client: httpx.AsyncClient
) -> None:
    row = ROUTES[route]
    target = await target_for(client, world, "A1", "A", fresh=row.need != READ)
    if row.acts_on == "listing":
        assert target.device_id in await listed(client, world["A"])
        return
    assert row.build is not None
    response = await send(client, row.build(target), world["A"].headers)
    assert is_ok(response), (response.status_code, response.text)


@pytest.mark.parametrize("route", MATRIX, ids=" ".join)
async def test_a_sub_account_does_not_see_its_parent(
    route: tuple[str, str], world: World, client: httpx.AsyncClient
) -> None:
    row = ROUTES[route]
    target = await target_for(client, world, "A", "A1", fresh=row.need != READ)
    if row.acts_on == "listing":
        assert target.device_id not in await listed(client, world["A1"])
        return
    assert row.build is not None
    response = await send(client, row.build(target), world["A1"].headers)
    assert is_hidden(response), (response.status_code, response.text)


@pytest.mark.parametrize("route", MATRIX, ids=" ".join)
async def test_a_viewer_reads_but_cannot_act(
    route: tuple[str, str], world: World, client: httpx.AsyncClient
) -> None:
    row = ROUTES[route]
    target = await target_for(client, world, "Av", "Av", fresh=row.need != READ)
    if row.acts_on == "listing":
        assert target.device_id in await listed(client, world["Av"])
        return
    assert row.build is not None
    response = await send(client, row.build(target), world["Av"].headers)
    if row.need in (READ, OWN):  # OWN: the viewer acts on its own account
        assert is_ok(response), (response.status_code, response.text)
    else:
        assert row.need in (MANAGE, COMMAND)
        assert response.status_code == 403, (response.status_code, response.text)
        assert response.json()["type"].endswith(":forbidden")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def revoked(stack: Stack, world: World) -> tuple[str, Target]:
    """A session of A1 that was revoked, and a target A1 would otherwise reach."""
    async with httpx.AsyncClient(base_url=stack.base_url) as c:
        token = await login(c, world["A1"].email)
        target = await target_for(c, world, "A1", "A1")
        assert (await c.get("/v1/accounts/me", headers=bearer(token))).status_code == 200
        response = await c.post("/v1/auth/revoke", headers=bearer(token))
        assert response.status_code == 204, response.text
    return token, target


@pytest.mark.parametrize("route", HTTP_WITH_CALLER, ids=" ".join)
async def test_a_revoked_token_is_refused_on_the_very_next_request(
    route: tuple[str, str], revoked: tuple[str, Target], client: httpx.AsyncClient
) -> None:
    token, target = revoked
    build = ROUTES[route].build
    assert build is not None
    response = await send(client, build(target), bearer(token))
    assert response.status_code == 401, (response.status_code, response.text)


# ---------------------------------------------------------------------- WebSockets


async def open_live(stack: Stack, token: str, *, in_query: bool = True) -> ClientConnection:
    if in_query:
        socket = await websockets.connect(f"{stack.ws_url}/v1/live?access_token={token}")
    else:
        socket = await websockets.connect(f"{stack.ws_url}/v1/live")
        await socket.send(json.dumps({"type": "auth", "access_token": token}))
    hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert hello == {"type": "subscribed"}
    return socket


async def test_live_socket_carries_only_visible_devices(
    stack: Stack, world: World, client: httpx.AsyncClient
) -> None:
    mine_a = await target_for(client, world, "A", "A")
    mine_a1 = await target_for(client, world, "A1", "A1")
    mine_b = await target_for(client, world, "B", "B")
    sockets = {
        "A": await open_live(stack, world["A"].token),
        "A1": await open_live(stack, world["A1"].token, in_query=False),
        "B": await open_live(stack, world["B"].token),
    }
    try:
        # one partition, foreign devices first: when a socket has its own last message, the
        # gateway has already decided about everything before it
        await publish_positions([mine_b.device_id, mine_a.device_id, mine_a1.device_id])
        got_a = await received(sockets["A"], until=mine_a1.device_id)
        got_a1 = await received(sockets["A1"], until=mine_a1.device_id)
        await publish_positions([mine_a.device_id, mine_a1.device_id, mine_b.device_id])
        got_b = await received(sockets["B"], until=mine_b.device_id, count=2)
        assert got_a == [mine_a.device_id, mine_a1.device_id]  # a distributor sees A1's
        assert got_a1 == [mine_a1.device_id]  # A1 does not see A's own device
        assert got_b == [mine_b.device_id, mine_b.device_id]  # another tree sees nothing of A
    finally:
        for socket in sockets.values():
            await socket.close()


async def test_live_socket_closes_when_its_session_is_revoked(
    stack: Stack, world: World, client: httpx.AsyncClient
) -> None:
    token = await login(client, world["A"].email)
    socket = await open_live(stack, token)
    other_gateway = await stack.start_gateway()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{other_gateway.http_port}") as other:
        token2 = await login(other, world["A"].email)
        socket_elsewhere = await websockets.connect(
            f"ws://127.0.0.1:{other_gateway.http_port}/v1/live?access_token={token2}"
        )
        await socket_elsewhere.recv()
        # revoked through this gateway: closes here at once
        assert (await client.post("/v1/auth/revoke", headers=bearer(token))).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 2)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # revoked through the first gateway: the second one learns it through Kafka
        assert (await client.post("/v1/auth/revoke", headers=bearer(token2))).status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket_elsewhere.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        refused = await other.get("/v1/accounts/me", headers=bearer(token2))
        assert refused.status_code == 401


async def test_live_socket_refuses_bad_tokens(stack: Stack) -> None:
    for url in (f"{stack.ws_url}/v1/live?access_token=nonsense", f"{stack.ws_url}/v1/live"):
        socket = await websockets.connect(url)
        if url.endswith("/live"):
            await socket.send('{"type": "auth", "access_token": "tsk_nope"}')
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


# ---------------------------------------------------------------------- share links


async def test_share_links_show_one_device_until_revoked(
    stack: Stack, world: World, client: httpx.AsyncClient
) -> None:
    target = await target_for(client, world, "A1", "A1")
    other = await target_for(client, world, "A1", "A1")
    url = f"/v1/shared/{target.link_token}/position"
    assert (await client.get(url)).json()["type"].endswith(":no-position")  # works, no data
    socket = await websockets.connect(f"{stack.ws_url}/v1/shared/{target.link_token}/live")
    assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "subscribed"}
    await publish_positions([other.device_id, target.device_id])
    assert await received(socket, until=target.device_id) == [target.device_id]
    await eventually(lambda: _has_position(client, url))
    # B cannot revoke A1's link, and a forged link id for B's own device does not reach it
    foreign = await client.delete(f"/v1/share-links/{target.link_id}", headers=world["B"].headers)
    assert is_hidden(foreign)
    mine_b = await target_for(client, world, "B", "B")
    forged = f"{mine_b.device_id}.{target.link_id.rpartition('.')[2]}"
    assert is_hidden(await client.delete(f"/v1/share-links/{forged}", headers=world["B"].headers))
    assert (await client.get(url)).status_code == 200
    revoke = await client.delete(f"/v1/share-links/{target.link_id}", headers=world["A"].headers)
    assert revoke.status_code == 204, revoke.text
    assert is_hidden(await client.get(url))  # at once
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def _has_position(client: httpx.AsyncClient, url: str) -> bool:
    return (await client.get(url)).status_code == 200


async def test_an_expired_share_link_stops_working_at_once(
    stack: Stack, world: World, client: httpx.AsyncClient
) -> None:
    target = await target_for(client, world, "A1", "A1")
    await publish_positions([target.device_id])
    await eventually(lambda: _has_position(client, f"/v1/shared/{target.link_token}/position"))
    expires = datetime.now(UTC) + timedelta(seconds=2)
    link = await client.post(
        f"/v1/devices/{target.device_id}/share-links",
        headers=world["A1"].headers,
        json={"expires_at": expires.isoformat()},
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    url = f"/v1/shared/{token}/position"
    assert (await client.get(url)).status_code == 200
    socket = await websockets.connect(f"{stack.ws_url}/v1/shared/{token}/live")
    await socket.recv()
    # the link's expiry is whole seconds; the socket closes when it passes, and so do requests
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert is_hidden(await client.get(url))


# ---------------------------------------------------------------------- in-app notifications


async def publish_platform_alarm(target: Target) -> str:
    """An SOS of the target's device on alarm.alarms.v1, as alarm publishes it."""
    alarm = alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=target.device_id,
        owner_account_id=target.account_id,
        type=alarm_pb2.ALARM_TYPE_SOS,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        severity=alarm_pb2.SEVERITY_CRITICAL,
        alarm_time=to_timestamp(datetime.now(UTC)),
    )
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/alarm")
    await publisher.start()
    try:
        await publisher.publish_many([Outgoing("alarm.alarms.v1", alarm, key=alarm.device_id)])
    finally:
        await publisher.stop()
    return alarm.alarm_id


async def notifications_until(socket: ClientConnection, alarm_id: str) -> list[dict[str, str]]:
    """The "notification" messages of a socket up to the one of ``alarm_id``."""
    seen: list[dict[str, str]] = []
    async with asyncio.timeout(20):
        while not seen or seen[-1]["alarm_id"] != alarm_id:
            message = json.loads(await socket.recv())
            if message["type"] == "notification":
                seen.append(message)
    return seen


async def test_inbox_events_reach_only_their_account(
    stack: Stack, world: World, client: httpx.AsyncClient
) -> None:
    """Each target has an in-app subscription of its account: an alarm of A1's device goes to
    A1's sockets and inbox, not to its parent A (which sees the device) nor to B; nobody but
    A1 marks it read."""
    mine = {name: await target_for(client, world, name, name) for name in ("A", "A1", "B")}
    sockets = {name: await open_live(stack, world[name].token) for name in ("A", "A1", "B")}
    try:
        alarm_id = await publish_platform_alarm(mine["A1"])
        got_a1 = await notifications_until(sockets["A1"], alarm_id)
        # the hub handed that record to every socket before A1's got it: what A and B receive
        # up to their own next notification would hold it
        markers = {name: await publish_platform_alarm(mine[name]) for name in ("A", "B")}
        got = {name: await notifications_until(sockets[name], markers[name]) for name in markers}
    finally:
        for socket in sockets.values():
            await socket.close()
    prefix = {name: f"{world[name].account_id}." for name in ("A", "A1", "B")}
    assert all(n["subscription_id"].startswith(prefix["A1"]) for n in got_a1)
    (notice,) = [n for n in got_a1 if n["alarm_id"] == alarm_id]
    assert notice["device_id"] == mine["A1"].device_id
    for name, messages in got.items():
        assert all(n["subscription_id"].startswith(prefix[name]) for n in messages), messages
        assert alarm_id not in {n["alarm_id"] for n in messages}
    # the inbox: A1's own; foreign callers cannot mark its entry
    inbox = await client.get("/v1/inbox", params={"unread_only": True}, headers=world["A1"].headers)
    assert notice["notification_id"] in {
        n["notification_id"] for n in inbox.json()["notifications"]
    }
    for name in ("A", "B"):
        theirs = await client.get("/v1/inbox", headers=world[name].headers)
        assert alarm_id not in {n["alarm_id"] for n in theirs.json()["notifications"]}
        refused = await client.post(
            "/v1/inbox/read",
            headers=world[name].headers,
            json={"notification_ids": [notice["notification_id"]]},
        )
        assert is_hidden(refused), (name, refused.text)
    still = await client.get("/v1/inbox", params={"unread_only": True}, headers=world["A1"].headers)
    assert notice["notification_id"] in {
        n["notification_id"] for n in still.json()["notifications"]
    }
    marked = await client.post(
        "/v1/inbox/read",
        headers=world["A1"].headers,
        json={"notification_ids": [notice["notification_id"]]},
    )
    assert marked.status_code == 204
    after = await client.get("/v1/inbox", params={"unread_only": True}, headers=world["A1"].headers)
    assert notice["notification_id"] not in {
        n["notification_id"] for n in after.json()["notifications"]
    }
