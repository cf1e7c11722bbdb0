"""The only composition root of the geocoding service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

import httpx

from geocoding.adapters.geonames import load_index
from geocoding.adapters.grpc_api import serve_grpc
from geocoding.adapters.providers import NominatimProvider, PhotonProvider
from geocoding.config import GeocodingSettings, ProviderKind
from geocoding.domain.breaker import CircuitBreaker
from geocoding.domain.movement import MovementFilter
from geocoding.domain.offline import OfflineIndex
from geocoding.domain.rate_limit import TokenBucket
from geocoding.erasure import PARTICIPANT as ERASURE_PARTICIPANT
from geocoding.erasure import GeocodingErasure
from geocoding.handlers import PositionGeocoder
from geocoding.ports import Provider
from geocoding.resolver import GuardedProvider, Resolver
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys

log = logging.getLogger(__name__)

POSITIONS = "tracking.positions.v1"


@dataclass
class GeocodingApp:
    settings: GeocodingSettings
    resolver: Resolver
    geocoder: PositionGeocoder
    publisher: EventPublisher
    http: httpx.AsyncClient | None
    erasure: GeocodingErasure
    #: the key store's session (sealed fields), connected when the app runs
    cassandra: CassandraStore | None = None
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        # the data keys that open positions and seal addresses (one cache for both)
        self.cassandra = CassandraStore(
            await asyncio.to_thread(connect, s.cassandra, keyspace=s.cassandra.keyspace)
        )
        self.publisher.data_keys = DataKeys(CassandraDataKeyStore(self.cassandra))
        await self.publisher.start()
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=[POSITIONS],
            batch_handler=self.geocoder.handle,
            registry=default_registry(),
            dead_letters=self.publisher,
            data_keys=self.publisher.data_keys,
        )
        # the anchors live in this process's memory: every process reads the orders in a group
        # of its own, from the moment it starts (before that it held nothing)
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=ERASURE_PARTICIPANT,
            erase=self.erasure.erase,
            publisher=self.publisher,
            group_id=f"{s.consumer_group}-erasure-{uuid.uuid4().hex[:12]}",
            auto_offset_reset="latest",
        )
        try:
            await consumer.start()
            await participant.start()
            server, self.grpc_port = await serve_grpc(self.resolver, s.grpc_host, s.grpc_port)
        except BaseException:
            await self.publisher.stop()
            self.cassandra.close()
            raise
        tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(participant.run())]
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in tasks:
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            consumer.stop()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await server.stop(5)
            await self.publisher.stop()
            if self.http is not None:
                await self.http.aclose()
            self.cassandra.close()


def provider_of(settings: GeocodingSettings, http: httpx.AsyncClient) -> Provider:
    if settings.provider is ProviderKind.NOMINATIM:
        return NominatimProvider(http, language=settings.provider_language)
    return PhotonProvider(http, language=settings.provider_language)


def bootstrap(settings: GeocodingSettings, *, index: OfflineIndex | None = None) -> GeocodingApp:
    """Wire the service. ``index`` (the offline dataset, about 2 s to load) may be shared."""
    if index is None:
        index, seconds = load_index()
        log.info(
            "offline dataset loaded", extra={"towns": len(index), "seconds": round(seconds, 2)}
        )
    http: httpx.AsyncClient | None = None
    guarded: GuardedProvider | None = None
    if settings.provider is not ProviderKind.NONE:
        http = httpx.AsyncClient(
            base_url=settings.provider_url,
            headers={"User-Agent": settings.provider_user_agent},
            timeout=settings.provider_timeout_s,
            follow_redirects=True,
        )
        guarded = GuardedProvider(
            provider_of(settings, http),
            breaker=CircuitBreaker(
                failure_threshold=settings.breaker_failures,
                reset_after_s=settings.breaker_reset_s,
            ),
            limiter=TokenBucket(
                rate_per_s=settings.provider_max_rps, burst=settings.provider_burst
            ),
            timeout_s=settings.provider_timeout_s,
        )
    resolver = Resolver(
        index,
        h3_resolution=settings.h3_resolution,
        cache_size=settings.cache_size,
        provider=guarded,
    )
    publisher = EventPublisher.create(settings.kafka, source="/geocoding")
    movement = MovementFilter(settings.move_threshold_m, max_devices=settings.max_devices)
    geocoder = PositionGeocoder(
        resolver=resolver,
        movement=movement,
        publisher=publisher,
    )
    return GeocodingApp(
        settings=settings,
        resolver=resolver,
        geocoder=geocoder,
        publisher=publisher,
        http=http,
        erasure=GeocodingErasure(movement),
    )
