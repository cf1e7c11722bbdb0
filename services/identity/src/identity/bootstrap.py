"""The only composition root of the identity service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher

from identity.adapters.grpc_api import serve_grpc
from identity.adapters.passwords import Argon2Passwords
from identity.adapters.store import CassandraIdentityStore
from identity.config import IdentitySettings
from identity.domain.errors import Unavailable
from identity.erasure import PARTICIPANT, IdentityErasure
from identity.handlers import Identity, Lifetimes
from identity.ports import IdentityStore, PasswordHashing, Publisher
from trackstream_auth import SigningKey
from trackstream_cassandra import CassandraStore, connect
from trackstream_kafka import EventPublisher
from trackstream_kafka.erasure import ErasureParticipant

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Now, to the millisecond: what Cassandra stores, so an answer equals a later read."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def password_hashing(settings: IdentitySettings) -> Argon2Passwords:
    hasher = PasswordHasher(
        time_cost=settings.password_time_cost,
        memory_cost=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
    )
    return Argon2Passwords(hasher, concurrency=settings.password_concurrency)


def build_identity(
    settings: IdentitySettings,
    *,
    store: IdentityStore,
    publisher: Publisher,
    passwords: PasswordHashing,
    signing_key: SigningKey,
    clock: Callable[[], datetime] = utc_now,
) -> Identity:
    """The handlers with their dependencies (tests pass fakes)."""
    return Identity(
        store=store,
        publisher=publisher,
        passwords=passwords,
        signing_key=signing_key,
        identifier_key=settings.identifier_key.get_secret_value().encode(),
        lookup_key=settings.lookup_key.get_secret_value().encode(),
        clock=clock,
        lifetimes=Lifetimes(
            access=timedelta(seconds=settings.access_token_lifetime_s),
            refresh=timedelta(seconds=settings.refresh_token_lifetime_s),
            share_link_max=timedelta(seconds=settings.share_link_max_lifetime_s),
        ),
        max_retention_days=settings.max_retention_days,
    )


@dataclass
class IdentityApp:
    settings: IdentitySettings
    identity: Identity
    cassandra: CassandraStore
    publisher: EventPublisher
    erasure: IdentityErasure
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def _republish(self) -> None:
        try:
            await self.identity.republish(
                older_than=timedelta(seconds=self.settings.republish_grace_s)
            )
        except Unavailable:
            log.warning(
                "republishing failed; next pass in %.0f s", self.settings.republish_interval_s
            )
        except Exception:
            log.exception("republishing failed")

    async def _republish_periodically(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.republish_interval_s)
            if not stopping.is_set():
                await self._republish()

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        await self.publisher.start()
        await self._republish()  # what a previous run stored but could not publish
        server, self.grpc_port = await serve_grpc(self.identity, s.grpc_host, s.grpc_port)
        republishing = asyncio.create_task(self._republish_periodically(stopping))
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=PARTICIPANT,
            erase=self.erasure.erase,
            publisher=self.publisher,
            group_id=s.erasure_group,
        )
        await participant.start()
        erasing = asyncio.create_task(participant.run())
        self.ready.set()
        log.info("identity serving", extra={"grpc_port": self.grpc_port})
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({erasing, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if erasing.done():
                erasing.result()
        finally:
            self.ready.clear()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(erasing, 30)
            await server.stop(5)
            republishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await republishing
            await self.publisher.stop()
            self.cassandra.close()


def connect_store(settings: IdentitySettings) -> tuple[CassandraStore, CassandraIdentityStore]:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    return cassandra, CassandraIdentityStore(cassandra)


def bootstrap(settings: IdentitySettings) -> IdentityApp:
    cassandra, store = connect_store(settings)
    publisher = EventPublisher.create(settings.kafka, source="/identity")
    identity = build_identity(
        settings,
        store=store,
        publisher=publisher,
        passwords=password_hashing(settings),
        signing_key=SigningKey.load_or_create(settings.signing_key_file),
    )
    return IdentityApp(
        settings=settings,
        identity=identity,
        cassandra=cassandra,
        publisher=publisher,
        erasure=IdentityErasure(identity, cassandra, publisher),
    )
