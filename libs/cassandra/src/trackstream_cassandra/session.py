"""A Cassandra session with prepared statements, awaited from asyncio.

The driver runs its own I/O thread (libev); :meth:`CassandraStore.execute` turns its
``ResponseFuture`` into an awaitable, so service code stays on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    ResponseFuture,
    Session,
)
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import BatchStatement, BatchType, PreparedStatement
from pydantic_settings import BaseSettings, SettingsConfigDict


class CassandraSettings(BaseSettings):
    """Connection settings from ``CASSANDRA_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="CASSANDRA_", extra="ignore")

    hosts: str = "127.0.0.1"
    port: int = 9042
    keyspace: str = "trackstream"
    local_dc: str = "datacenter1"
    #: keyspace replication when migrations create it
    replication_factor: int = 1
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 10.0

    @property
    def host_list(self) -> list[str]:
        return [h.strip() for h in self.hosts.split(",") if h.strip()]


def connect(settings: CassandraSettings, *, keyspace: str | None = None) -> Session:
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=settings.local_dc)),
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        request_timeout=settings.request_timeout_s,
    )
    cluster = Cluster(
        settings.host_list,
        port=settings.port,
        protocol_version=5,
        connect_timeout=settings.connect_timeout_s,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        # the default backs off to 10 minutes: after an outage, retry every 10 s at most
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=10.0),
    )
    return cluster.connect(keyspace)


class CassandraStore:
    """A session plus a cache of prepared statements, used from asyncio."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._prepared: dict[str, PreparedStatement] = {}
        self._gc_grace: dict[str, int] = {}

    def prepared(self, cql: str) -> PreparedStatement:
        statement = self._prepared.get(cql)
        if statement is None:
            statement = self._prepared[cql] = self.session.prepare(cql)
        return statement

    async def execute(self, cql: str, params: Sequence[Any] | None = None) -> list[Any]:
        """Run a prepared statement and return all its rows."""
        future = self.session.execute_async(self.prepared(cql), params)
        return await _rows(future)

    async def execute_atomically(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run prepared writes as one logged batch: all of them are applied or none (the
        coordinator's batch log replays a batch it accepted), in one round trip."""
        batch = BatchStatement(batch_type=BatchType.LOGGED)
        for cql, params in statements:
            batch.add(self.prepared(cql), params)
        await _rows(self.session.execute_async(batch))

    async def execute_concurrently(
        self, cql: str, params: Sequence[Sequence[Any]], *, concurrency: int
    ) -> None:
        """Run one prepared statement for many parameter rows with the driver's own concurrent
        executor, in a worker thread: one hand-over to asyncio per batch instead of one per row.
        Raises the first failure."""
        statement = self.prepared(cql)
        await asyncio.to_thread(
            execute_concurrent_with_args,
            self.session,
            statement,
            params,
            concurrency=concurrency,
            raise_on_first_error=True,
        )

    async def gc_grace_seconds(self, table: str) -> int:
        """The table's ``gc_grace_seconds`` in the session's keyspace, read from
        ``system_schema.tables`` once: how long a tombstone is kept before compaction may purge
        it (and the data it shadows), so the bound of an erasure."""
        if table not in self._gc_grace:
            keyspace = self.session.keyspace
            rows = await self.execute(
                "SELECT gc_grace_seconds FROM system_schema.tables "
                "WHERE keyspace_name = ? AND table_name = ?",
                (keyspace, table),
            )
            if not rows:
                raise LookupError(f"no table {table!r} in keyspace {keyspace!r}")
            self._gc_grace[table] = int(rows[0].gc_grace_seconds)
        return self._gc_grace[table]

    def close(self) -> None:
        self.session.cluster.shutdown()


async def _rows(future: ResponseFuture) -> list[Any]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Any]] = loop.create_future()
    rows: list[Any] = []

    def on_page(page: list[Any] | None) -> None:
        rows.extend(page or ())  # statements without rows (INSERT, DDL) give None
        if future.has_more_pages:
            future.start_fetching_next_page()
        else:
            _hand_over(loop, _resolve, done, rows)

    def on_error(err: BaseException) -> None:
        _hand_over(loop, _fail, done, err)

    future.add_callbacks(on_page, on_error)
    return await done


def _hand_over(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    """From the driver's thread to the loop, unless the loop is gone: a statement still
    answering after its process's loop closed (a shutdown) has nobody waiting for it."""
    if loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):  # closed between the check and the call
        loop.call_soon_threadsafe(callback, *args)


def _resolve(done: asyncio.Future[list[Any]], rows: list[Any]) -> None:
    if not done.done():
        done.set_result(rows)


def _fail(done: asyncio.Future[list[Any]], err: BaseException) -> None:
    if not done.done():
        done.set_exception(err)


def as_date(value: Any) -> date:
    """A ``date`` column's value as a ``datetime.date`` (the driver may give a
    ``cassandra.util.Date``)."""
    return value if isinstance(value, date) else value.date()
