"""The notification service against the real stack, with a real SMTP server (aiosmtpd) and a
real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

import grpc
import pytest
from aiosmtpd.controller import Controller

from notification.bootstrap import NotificationApp, bootstrap
from notification.config import NotificationSettings
from tests.integration.helpers import start_group_at_end
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.notification.v1 import notification_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.erasure import ORDERS_TOPIC


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: every message received, parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Route:
    """What a path answers: ``fail_first`` 500s, then 200; ``status`` forever when set;
    ``delay_s`` before answering; ``responder`` builds (status, json body) from the request."""

    fail_first: int = 0
    status: int | None = None
    delay_s: float = 0.0
    responder: Any = None
    seen: int = 0


@dataclass
class Receiver:
    """A real HTTP/1.1 server on loopback (keep-alive, Content-Length bodies)."""

    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Request] = field(default_factory=list)
    accepted: list[Request] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(path, headers, body, asyncio.get_running_loop().time())
                self.received.append(request)
                status, answer = await self._answer(request)
                if 200 <= status < 300:
                    self.accepted.append(request)
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _answer(self, request: Request) -> tuple[int, Any]:
        route = next((r for p, r in self.routes.items() if request.path.startswith(p)), Route())
        route.seen += 1
        if route.delay_s:
            await asyncio.sleep(route.delay_s)
        if route.responder is not None:
            result: tuple[int, Any] = route.responder(request)
            return result
        if route.status is not None:
            return route.status, {}
        if route.seen <= route.fail_first:
            return 500, {"error": "not yet"}
        return 200, {}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


async def register_device(account_id: str) -> str:
    device_id = f"dev-{uuid.uuid4().hex[:10]}"
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/identity")
    await publisher.start()
    try:
        await publisher.publish_many(
            [
                Outgoing(
                    "identity.device-registry.v1",
                    DeviceRegistered(
                        device_id=device_id,
                        identifier_hmac=uuid.uuid4().bytes,
                        owner_account_id=account_id,
                    ),
                    key=device_id,
                )
            ]
        )
    finally:
        await publisher.stop()
    return device_id


def alarm(device_id: str, account_id: str, when: datetime | None = None) -> alarm_pb2.AlarmRaised:
    raised = alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=device_id,
        owner_account_id=account_id,
        type=alarm_pb2.ALARM_TYPE_SOS,
        severity=alarm_pb2.SEVERITY_CRITICAL,
        fix=Fix(latitude=52.52, longitude=13.405, valid=True),
    )
    raised.alarm_time.FromDatetime(when or datetime.now(UTC))
    raised.fix.fix_time.CopyFrom(raised.alarm_time)
    return raised


async def publish_alarms(alarms: list[alarm_pb2.AlarmRaised]) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/alarm")
    await publisher.start()
    try:
        await publisher.publish_many(
            [Outgoing("alarm.alarms.v1", a, key=a.device_id) for a in alarms]
        )
    finally:
        await publisher.stop()


class NotificationRunner:
    """Notification services in-process on the real stack."""

    def __init__(self, smtp_port: int) -> None:
        self.group = f"notification-test-{uuid.uuid4().hex[:8]}"
        self.smtp_port = smtp_port
        self._running: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._group_ready = False

    async def start(self, **overrides: Any) -> NotificationApp:
        if not self._group_ready:
            await start_group_at_end(
                KafkaSettings(),
                self.group,
                "alarm.alarms.v1",
                "tracking.command-results.v1",
                "media.objects.v1",
            )
            await start_group_at_end(KafkaSettings(), f"{self.group}-erasure", ORDERS_TOPIC)
            self._group_ready = True
        values: dict[str, Any] = {
            "grpc_port": 0,
            "consumer_group": self.group,
            "smtp_address": f"127.0.0.1:{self.smtp_port}",
            "webhook_allow_http": True,
            "webhook_allowed_networks": "127.0.0.0/8,::1/128",
            "geocoding_address": "",
            "backoff_base_s": 0.2,
            "backoff_max_s": 1.0,
            "max_attempts": 4,
            "sweep_interval_s": 0.5,
        }
        app = bootstrap(NotificationSettings(**(values | overrides)))
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        self._running[id(app)] = (stopping, task)
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert app.ready.is_set(), "the notification service did not become ready"
        return app

    async def stop(self, app: NotificationApp) -> None:
        stopping, task = self._running.pop(id(app))
        stopping.set()
        await asyncio.wait_for(task, 60)

    async def stop_all(self) -> None:
        for stopping, task in self._running.values():
            stopping.set()
            await asyncio.wait_for(task, 60)
        self._running.clear()


@pytest.fixture
async def notification_service(
    smtp: tuple[Mailbox, int],
) -> AsyncIterator[NotificationRunner]:
    runner = NotificationRunner(smtp[1])
    yield runner
    await runner.stop_all()


def stub(app: NotificationApp) -> tuple[grpc.aio.Channel, pb_grpc.NotificationServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    return channel, pb_grpc.NotificationServiceStub(channel)


async def eventually(check: Any, *, within: float = 30.0, every: float = 0.1) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)
