"""A device's data key is fetched (or made) when it logs in, not by its first position."""

from __future__ import annotations

from typing import cast

from ingest.adapters.commands import CommandDispatcher
from ingest.adapters.tcp_server import Connection
from ingest.bootstrap import device_online
from ingest.domain.session import DeviceSession, SessionState
from ingest.protocols.base import ProtocolAdapter
from trackstream_kafka.sealing import DataKeys, InMemoryDataKeyStore


class Dispatcher:
    def __init__(self) -> None:
        self.online: list[str | None] = []

    async def device_online(self, connection: Connection) -> None:
        self.online.append(connection.session.device_id)


def _connection(device_id: str) -> Connection:
    session = DeviceSession(session_id="s-1", protocol=1)
    session.device_id, session.state = device_id, SessionState.ACTIVE
    return Connection(session, cast(ProtocolAdapter, None), writer=None)  # type: ignore[arg-type]


async def test_the_key_exists_once_the_device_is_online_and_held_commands_go_out() -> None:
    store = InMemoryDataKeyStore()
    dispatcher = Dispatcher()
    await device_online(cast(CommandDispatcher, dispatcher), DataKeys(store), _connection("dev-1"))
    assert await store.get("dev-1") is not None
    assert dispatcher.online == ["dev-1"]


async def test_an_erased_device_logs_in_without_a_new_key_and_without_an_error() -> None:
    store = InMemoryDataKeyStore()
    await store.destroy("dev-gone")
    dispatcher = Dispatcher()
    await device_online(
        cast(CommandDispatcher, dispatcher), DataKeys(store), _connection("dev-gone")
    )
    assert await store.get("dev-gone") is None  # no key made for an erased subject
    assert dispatcher.online == ["dev-gone"]
