"""The gateway against the real stack: identity, history (and ingest, where a test needs it)
run in this process on free ports, over the real Kafka and Cassandra; geocoding's gRPC API
too, on its real offline dataset (loaded in a thread while identity and history start; its
Kafka side is not run: the gateway only asks it), and alarm's gRPC API over its real tables
(identity's registry and accounts, the geofences and rules topics) and its Cassandra history
(its engine and history writer are not run: the gateway only manages and queries); media
whole (its consumer at the topics' end, the real S3 store), sharing identity's identifier
key; the notification service whole (its group starting at the end of its topics; webhooks
to loopback allowed); privacy whole; and the erasure participants of alarm and geocoding.

One stack serves the whole session (starting identity, history and a gateway takes seconds),
so tests here run in the session's event loop (``pytestmark`` in each module) and create
their own accounts with unique e-mails.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio

from alarm.adapters.grpc_api import AlarmApi
from alarm.adapters.grpc_api import serve_grpc as serve_alarm
from alarm.bootstrap import AlarmApp
from alarm.bootstrap import bootstrap as bootstrap_alarm
from alarm.config import AlarmSettings
from alarm.erasure import PARTICIPANT as ALARM_PARTICIPANT
from gateway.bootstrap import Gateway
from gateway.bootstrap import bootstrap as bootstrap_gateway
from gateway.config import GatewaySettings
from geocoding.adapters.geonames import load_index
from geocoding.adapters.grpc_api import serve_grpc as serve_geocoding
from geocoding.domain.movement import MovementFilter
from geocoding.erasure import PARTICIPANT as GEOCODING_PARTICIPANT
from geocoding.erasure import GeocodingErasure
from geocoding.resolver import Resolver
from history.bootstrap import HistoryApp
from history.bootstrap import bootstrap as bootstrap_history
from history.config import HistorySettings
from identity.bootstrap import IdentityApp
from identity.bootstrap import bootstrap as bootstrap_identity
from identity.config import IdentitySettings
from media.bootstrap import MediaService
from media.bootstrap import bootstrap as bootstrap_media
from media.config import MediaSettings
from media.handlers import ALARMS_TOPIC, COMMAND_RESULTS, MEDIA_TOPIC
from notification.bootstrap import NotificationApp
from notification.bootstrap import bootstrap as bootstrap_notification
from notification.config import NotificationSettings
from privacy.bootstrap import PrivacyApp
from privacy.bootstrap import bootstrap as bootstrap_privacy
from privacy.config import PrivacySettings
from trackstream.history.v1 import history_service_pb2 as hpb
from trackstream.history.v1 import history_service_pb2_grpc as hpb_grpc
from trackstream.identity.v1 import accounts_pb2 as pb
from trackstream_kafka import EventPublisher, KafkaSettings, admin
from trackstream_kafka.erasure import ORDERS_TOPIC, ErasureParticipant

IDENTIFIER_KEY = "gateway-integration-identifier-key-0123456789"
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.org"


def unique_imei() -> str:
    return "86" + str(uuid.uuid4().int)[:13]


async def started(run: Awaitable[None], ready: asyncio.Event, what: str) -> asyncio.Task[None]:
    task = asyncio.ensure_future(run)
    waiter = asyncio.ensure_future(ready.wait())
    await asyncio.wait({task, waiter}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert ready.is_set(), f"{what} did not become ready in 90 s"
    return task


@dataclass
class Stack:
    identity: IdentityApp
    history: HistoryApp
    gateway: Gateway
    platform_id: str
    geocoding_port: int
    alarm: AlarmApp
    notification: NotificationApp | None = None
    stoppers: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)
    media: MediaService | None = None
    privacy: PrivacyApp | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway.http_port}"

    async def start_gateway(self, **overrides: Any) -> Gateway:
        """Another gateway instance on the same backends (its own read model)."""
        values: dict[str, Any] = {
            "http_port": 0,
            "ops_port": 0,
            "identity_address": f"127.0.0.1:{self.identity.grpc_port}",
            "history_address": f"127.0.0.1:{self.history.grpc_port}",
            "geocoding_address": f"127.0.0.1:{self.geocoding_port}",
            "alarm_address": f"127.0.0.1:{self.alarm.grpc_port}",
            "media_address": f"127.0.0.1:{self.media.grpc_port if self.media else 0}",
            "privacy_address": f"127.0.0.1:{self.privacy.grpc_port if self.privacy else 0}",
            "notification_address": (
                f"127.0.0.1:{self.notification.grpc_port}" if self.notification else "127.0.0.1:1"
            ),
            "rate_per_s": 10_000.0,
            "rate_burst": 10_000,
        }
        gateway = bootstrap_gateway(GatewaySettings(**(values | overrides)))
        stopping = asyncio.Event()
        task = await started(gateway.run(stopping), gateway.ready, "gateway")
        self.stoppers.append((stopping, task))
        return gateway

    async def create_account(
        self, parent_id: str, kind: int, role: int = pb.ACCOUNT_ROLE_ADMIN, label: str = "acct"
    ) -> tuple[str, str]:
        """(account id, e-mail) created straight through identity's handlers."""
        email = unique_email(label)
        account = await self.identity.identity.create_account(
            parent_account_id=parent_id,
            kind=kind,
            role=role,
            email=email,
            phone="",
            display_name=label,
            password=PASSWORD,
        )
        return account.account_id, email


async def start_group_at_end(group_id: str, *topics: str) -> None:
    """Commit ``group_id``'s offsets at the end of ``topics``: a fresh history then stores only
    what the tests publish, not the whole backlog of the running fleet."""
    await admin.start_group_at_end(KafkaSettings(), group_id, *topics)


async def consuming(history: HistoryApp) -> None:
    """Wait until history stores what is published now (its group has joined)."""
    from services.gateway.tests.integration.live_helpers import publish_positions

    probe = f"probe-{uuid.uuid4().hex}"
    await publish_positions([probe])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{history.grpc_port}") as channel:
        stub = hpb_grpc.HistoryServiceStub(channel)

        async def stored() -> bool:
            request = hpb.GetLastPositionsRequest(device_ids=[probe])
            return bool((await stub.GetLastPositions(request)).positions)

        await eventually(stored, within=90)


@contextlib.asynccontextmanager
async def alarm_api() -> AsyncIterator[AlarmApp]:
    """Alarm's gRPC API as its bootstrap wires it, without the engine: its tables followed,
    its publisher started, its store on the real Cassandra."""
    app = bootstrap_alarm(AlarmSettings(grpc_port=0))
    stopping = asyncio.Event()
    loading = [asyncio.create_task(t.run(stopping)) for t in app.tables.all()]
    try:
        await asyncio.wait_for(asyncio.gather(*(t.ready.wait() for t in app.tables.all())), 90)
        await app.publisher.start()
        api = AlarmApi(
            definitions=app.definitions,
            directory=app.directory,
            publisher=app.publisher,
            store=app.store,
            apply_fence=app.tables.geofences.apply,
            apply_rule=app.tables.rules.apply,
        )
        server, app.grpc_port = await serve_alarm(api, "127.0.0.1", 0)
        # alarm's part in erasures (the engine itself does not run here)
        erasure_group = f"alarm-gw-erasure-{uuid.uuid4().hex[:8]}"
        await start_group_at_end(erasure_group, ORDERS_TOPIC)
        participant = ErasureParticipant(
            settings=app.settings.kafka,
            participant=ALARM_PARTICIPANT,
            erase=app.erasure.erase,
            publisher=app.publisher,
            group_id=erasure_group,
        )
        await participant.start()
        erasing = asyncio.create_task(participant.run())
        try:
            yield app
        finally:
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(erasing, 20)
            await server.stop(1)
            await app.publisher.stop()
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*loading), 10)
        app.cassandra.close()


@contextlib.asynccontextmanager
async def media_service() -> AsyncIterator[MediaService]:
    """Media whole on free ports, its consumer group at the end of its topics."""
    group = f"media-gw-{uuid.uuid4().hex[:8]}"
    for topic in (MEDIA_TOPIC, COMMAND_RESULTS, ALARMS_TOPIC):
        await start_group_at_end(group, topic)
    service = bootstrap_media(
        MediaSettings(
            grpc_port=0,
            http_host="127.0.0.1",
            http_port=0,
            ops_port=0,
            consumer_group=group,
            identifier_key=IDENTIFIER_KEY,  # type: ignore[arg-type]
        )
    )
    stopping = asyncio.Event()
    task = await started(service.run(stopping), service.ready, "media")
    try:
        yield service
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 40)


@contextlib.asynccontextmanager
async def geocoding_erasure() -> AsyncIterator[None]:
    """Geocoding's part in erasures (only its gRPC API runs here: its memory of devices is an
    empty movement filter, so it acknowledges with nothing to drop)."""
    settings = KafkaSettings()
    publisher = EventPublisher.create(settings, source="/tests/geocoding")
    await publisher.start()
    participant = ErasureParticipant(
        settings=settings,
        participant=GEOCODING_PARTICIPANT,
        erase=GeocodingErasure(MovementFilter(50.0, max_devices=10)).erase,
        publisher=publisher,
        group_id=f"geocoding-gw-erasure-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
    )
    await participant.start()
    task = asyncio.create_task(participant.run())
    try:
        yield
    finally:
        participant.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
        await publisher.stop()


@contextlib.asynccontextmanager
async def privacy_service(folder: Path) -> AsyncIterator[PrivacyApp]:
    """Privacy whole on a free port, its consumer group at the end of its topics."""
    group = f"privacy-gw-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(group, "privacy.erasure-requests.v1", "privacy.erasure-acks.v1")
    app = bootstrap_privacy(
        PrivacySettings(
            grpc_port=0,
            ops_port=0,
            consumer_group=group,
            signing_key_file=folder / "certificate-key.pem",
            resend_interval_s=5.0,
            sweep_interval_s=0.5,
        )
    )
    stopping = asyncio.Event()
    task = await started(app.run(stopping), app.ready, "privacy")
    try:
        yield app
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 40)


@contextlib.asynccontextmanager
async def notification_service() -> AsyncIterator[NotificationApp]:
    """The notification service whole, on a fresh group at the end of its topics: quick
    retries, webhooks over http to loopback receivers allowed."""
    group = f"notification-gw-{uuid.uuid4().hex[:8]}"
    for topic in ("alarm.alarms.v1", "tracking.command-results.v1", "media.objects.v1"):
        await start_group_at_end(group, topic)
    app = bootstrap_notification(
        NotificationSettings(
            grpc_port=0,
            consumer_group=group,
            geocoding_address="",
            webhook_allow_http=True,
            webhook_allowed_networks="127.0.0.0/8,::1/128",
            max_attempts=2,
            backoff_base_s=0.2,
            backoff_max_s=0.5,
        )
    )
    stopping = asyncio.Event()
    task = await started(app.run(stopping), app.ready, "notification")
    try:
        yield app
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder: Path = tmp_path_factory.mktemp("identity")
    loading = asyncio.ensure_future(asyncio.to_thread(load_index))  # seconds of CPU
    identity = bootstrap_identity(
        IdentitySettings(
            grpc_port=0,
            signing_key_file=folder / "signing-key.pem",
            identifier_key=IDENTIFIER_KEY,  # type: ignore[arg-type]
            password_time_cost=1,
            password_memory_kib=8192,
            password_parallelism=1,
        )
    )
    identity_stop = asyncio.Event()
    identity_task = await started(identity.run(identity_stop), identity.ready, "identity")
    group = f"history-gw-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(group, "tracking.positions.v1")
    history = bootstrap_history(HistorySettings(grpc_port=0, consumer_group=group))
    history_stop = asyncio.Event()
    history_task = await started(history.run(history_stop), history.ready, "history")
    await consuming(history)
    index, _ = await loading
    geocoding, geocoding_port = await serve_geocoding(
        Resolver(index, h3_resolution=9, cache_size=10_000), "127.0.0.1", 0
    )
    platform, _ = await identity.identity.bootstrap_platform(
        email=unique_email("platform"), password=PASSWORD, display_name="Platform"
    )
    exits = contextlib.AsyncExitStack()
    await exits.enter_async_context(geocoding_erasure())
    alarm = await exits.enter_async_context(alarm_api())
    media = await exits.enter_async_context(media_service())
    privacy = await exits.enter_async_context(privacy_service(folder))
    notification = await exits.enter_async_context(notification_service())
    stack = Stack(
        identity=identity,
        history=history,
        gateway=None,  # type: ignore[arg-type]
        platform_id=platform.account_id,
        geocoding_port=geocoding_port,
        alarm=alarm,
        media=media,
        privacy=privacy,
        notification=notification,
    )
    stack.gateway = await stack.start_gateway()
    try:
        yield stack
    finally:
        for stopping, task in reversed(stack.stoppers):
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        await geocoding.stop(1)
        await exits.aclose()
        for stopping, task in ((history_stop, history_task), (identity_stop, identity_task)):
            stopping.set()
            await asyncio.wait_for(task, 30)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


Eventually = Callable[[Callable[[], Awaitable[bool]]], Awaitable[None]]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` until true (for what travels through Kafka); fail after ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
