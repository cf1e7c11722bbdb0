"""A small account tree for the unit tests of the gateway's rules.

platform (ADMIN)
├── A  distributor (ADMIN)          devices: dA
│   ├── A1 enterprise (ADMIN)       devices: dA1
│   │   └── A1u end user (VIEWER)   devices: dA1u
│   ├── Aop enterprise (OPERATOR)
│   └── Aview enterprise (VIEWER)
└── B  enterprise (ADMIN)           devices: dB (shared with A1u until NOW+1h), dBx (shared
                                              with A1u, expired)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import grpc
import httpx
import pytest

from gateway.bootstrap import Gateway, bootstrap
from gateway.config import GatewaySettings
from gateway.domain.directory import Directory
from gateway.domain.model import (
    AccountNode,
    ApiKeyEntry,
    Caller,
    DeviceEntry,
    Kind,
    Role,
    Share,
)
from trackstream_auth import new_api_key
from trackstream_testing.fakes import FakePublisher

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def account(account_id: str, parents: tuple[str, ...], kind: Kind, role: Role) -> AccountNode:
    return AccountNode(
        account_id=account_id,
        parent_id=parents[-1] if parents else "",
        ancestors=parents,
        kind=kind,
        role=role,
        disabled=False,
    )


def tree() -> Directory:
    d = Directory()
    d.put_account(account("platform", (), Kind.PLATFORM, Role.ADMIN))
    d.put_account(account("A", ("platform",), Kind.DISTRIBUTOR, Role.ADMIN))
    d.put_account(account("A1", ("platform", "A"), Kind.ENTERPRISE, Role.ADMIN))
    d.put_account(account("A1u", ("platform", "A", "A1"), Kind.END_USER, Role.VIEWER))
    d.put_account(account("Aop", ("platform", "A"), Kind.ENTERPRISE, Role.OPERATOR))
    d.put_account(account("Aview", ("platform", "A"), Kind.ENTERPRISE, Role.VIEWER))
    d.put_account(account("B", ("platform",), Kind.ENTERPRISE, Role.ADMIN))
    d.put_device(DeviceEntry("dA", "A"))
    d.put_device(DeviceEntry("dA1", "A1"))
    d.put_device(DeviceEntry("dA1u", "A1u"))
    d.put_device(DeviceEntry("dB", "B", shares=(Share("A1u", NOW + timedelta(hours=1)),)))
    d.put_device(DeviceEntry("dBx", "B", shares=(Share("A1u", NOW - timedelta(seconds=1)),)))
    return d


def caller(account_id: str, *, read_only: bool = False) -> Caller:
    return Caller(account_id=account_id, credential_id=f"session-{account_id}", read_only=read_only)


#: (name of the key, account it belongs to, read-only) of the API keys a harness hands out
KEY_HOLDERS: tuple[tuple[str, str, bool], ...] = (
    ("A", "A", False),
    ("A1", "A1", False),
    ("A1u", "A1u", False),
    ("Aop", "Aop", False),
    ("B", "B", False),
)


@dataclass
class GatewayOnFake:
    """The gateway's real wiring (``bootstrap``, no Kafka) on one fake backend served over a
    real gRPC channel, with the account tree and an API key per holder."""

    client: httpx.AsyncClient
    gateway: Gateway
    directory: Directory
    keys: dict[str, dict[str, str]]


class StartGateway(Protocol):
    async def __call__(
        self,
        serve: Callable[[grpc.aio.Server], None],
        address_setting: str,
        *,
        address: str | None = None,
        key_holders: tuple[tuple[str, str, bool], ...] = KEY_HOLDERS,
        **settings: Any,
    ) -> GatewayOnFake: ...


@pytest.fixture
async def gateway_on_fake() -> AsyncIterator[StartGateway]:
    """Starts a gRPC server with what ``serve`` adds to it, and a gateway whose
    ``address_setting`` points at it (or at ``address``, e.g. nothing listening)."""
    cleanups: list[Callable[[], Awaitable[Any]]] = []

    async def start(
        serve: Callable[[grpc.aio.Server], None],
        address_setting: str,
        *,
        address: str | None = None,
        key_holders: tuple[tuple[str, str, bool], ...] = KEY_HOLDERS,
        **settings: Any,
    ) -> GatewayOnFake:
        server = grpc.aio.server()
        serve(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        cleanups.append(lambda: server.stop(None))
        values: dict[str, Any] = {
            address_setting: address or f"127.0.0.1:{port}",
            "backend_timeout_s": 2.0,
            **settings,
        }
        gateway = bootstrap(
            GatewaySettings(**values),
            publisher=FakePublisher(),
            kafka=False,
        )
        for channel in gateway.channels:
            cleanups.append(channel.close)
        directory = tree()
        gateway.context.directory = directory
        gateway.context.clock = lambda: NOW  # the shares of the tree are relative to NOW
        keys: dict[str, dict[str, str]] = {}
        for name, account_id, read_only in key_holders:
            key = new_api_key()
            directory.put_api_key(
                ApiKeyEntry(key.key_id, account_id, key.secret_sha256, None, read_only=read_only)
            )
            keys[name] = {"X-API-Key": key.secret}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway.app), base_url="http://gateway"
        )
        cleanups.append(client.aclose)
        return GatewayOnFake(client, gateway, directory, keys)

    yield start
    for cleanup in reversed(cleanups):
        await cleanup()
