"""Identity against the real stack: the service runs in this process on a free port, over the
real Kafka broker and a Cassandra keyspace of its own (created for the session from the
migrations, dropped at the end), so the single platform slot and the e-mail and identifier
claims of the shared ``trackstream`` keyspace are left alone.

Every log record emitted during a test is captured raw (before the JSON formatter's redaction)
and checked for the personal data and secrets the test registered with ``secrets``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from identity.bootstrap import IdentityApp, bootstrap
from identity.config import IdentitySettings
from tests.integration.helpers import start_group_at_end
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc
from trackstream_cassandra import CassandraSettings, connect
from trackstream_cassandra.migrations import apply_migrations
from trackstream_kafka.erasure import ORDERS_TOPIC
from trackstream_kafka.settings import KafkaSettings

MIGRATIONS = Path(__file__).parents[4] / "deploy" / "cassandra" / "migrations"
IDENTIFIER_KEY = "identity-integration-identifier-key-0123456789"
StartIdentity = Callable[..., Coroutine[Any, Any, IdentityApp]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@Example.org"


def unique_imei() -> str:
    """15 digits, starting 86 like the simulator's; the check digit is not required."""
    return "86" + str(uuid.uuid4().int)[:13]


@pytest.fixture(scope="session")
def keyspace() -> Iterator[str]:
    name = f"identity_it_{uuid.uuid4().hex[:10]}"
    session = connect(CassandraSettings())
    try:
        apply_migrations(session, keyspace=name, folder=MIGRATIONS)
        yield name
    finally:
        # dropping a keyspace flushes and snapshots every table: slow on a busy node
        session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=180)
        session.cluster.shutdown()


class RawLogCapture(logging.Handler):
    """Every record as its message, extras and exception text, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {
            k: str(v)
            for k, v in vars(record).items()
            if k not in logging.LogRecord("", 0, "", 0, "", None, None).__dict__
        }
        text = record.getMessage() + " " + json.dumps(extras)
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def secrets() -> Iterator[list[str]]:
    """Register personal data and secrets a test uses; none may appear in any log record."""
    registered: list[str] = []
    capture = RawLogCapture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield registered
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)
    assert capture.lines, "nothing was logged: the capture is not working"
    leaks = [
        (secret, line)
        for secret in registered
        for line in capture.lines
        if secret and (secret in line or secret.lower() in line.lower())
    ]
    assert not leaks, f"{len(leaks)} log records carry personal data or secrets: {leaks[:3]}"


@pytest.fixture
async def start_identity(
    keyspace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StartIdentity]:
    monkeypatch.setenv("CASSANDRA_KEYSPACE", keyspace)
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> IdentityApp:
        values: dict[str, Any] = {
            "grpc_port": 0,
            "signing_key_file": tmp_path / "signing-key.pem",
            "identifier_key": IDENTIFIER_KEY,
            "password_time_cost": 1,
            "password_memory_kib": 8192,
            "password_parallelism": 1,
            "republish_interval_s": 0.5,
            "erasure_group": f"identity-erasure-test-{uuid.uuid4().hex[:8]}",
        }
        settings = IdentitySettings(**(values | overrides))
        await start_group_at_end(KafkaSettings(), settings.erasure_group, ORDERS_TOPIC)
        app = bootstrap(settings)
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        running.append((stopping, task))
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert app.ready.is_set(), "identity did not become ready in 60 s"
        return app

    yield start
    for stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 60)


def stub_of(app: IdentityApp) -> tuple[grpc.aio.Channel, pb_grpc.IdentityServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}")
    return channel, pb_grpc.IdentityServiceStub(channel)


class TopicWatch:
    """Records of a topic published after the watch started (read outside any group)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=KafkaSettings().bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )

    async def __aenter__(self) -> TopicWatch:
        await self._consumer.start()
        for _ in range(200):
            if self._consumer.assignment():
                break
            await asyncio.sleep(0.05)
        partitions = list(self._consumer.assignment())
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is published
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(
        self, matches: Callable[[ConsumerRecord[bytes, bytes]], bool], *, within: float = 20
    ) -> ConsumerRecord[bytes, bytes]:
        """The first record (seen so far or coming) that matches."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for record in self.records:
                if matches(record):
                    return record
            if loop.time() > deadline:
                raise TimeoutError(f"no matching record on {self.topic} within {within} s")
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                self.records.extend(records)

    def keyed(self, key: str) -> list[ConsumerRecord[bytes, bytes]]:
        return [r for r in self.records if r.key == key.encode()]
