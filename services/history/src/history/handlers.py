"""Position events become stored track points. Bad input is stored flagged (see
``history.domain.plausibility``), never dropped and never a reason to stop consuming; a message
that cannot be parsed never reaches here (the consumer dead-letters it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from history.domain.model import PointAddress, TrackPoint
from history.domain.plausibility import flag
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.fields import present
from trackstream_kafka import ConsumedEvent, RetryableError

log = logging.getLogger(__name__)


class PointWriter(Protocol):
    async def write(
        self, points: Sequence[TrackPoint], ttl_seconds: Mapping[str, int] | None = None
    ) -> None: ...


class AddressStore(Protocol):
    async def write_addresses(
        self, addresses: Sequence[PointAddress], ttl_seconds: Mapping[str, int] | None = None
    ) -> None: ...


def point_of(event: PositionReported) -> TrackPoint:
    fix = event.fix
    return TrackPoint(
        device_id=event.device_id,
        fix_time=fix.fix_time.ToDatetime(tzinfo=UTC),
        latitude=fix.latitude,
        longitude=fix.longitude,
        speed_kmh=fix.speed_kmh,
        course_deg=fix.course_deg,
        valid=fix.valid,
        altitude_m=present(fix, "altitude_m"),
        satellites=present(fix, "satellites"),
        ignition=present(event, "ignition"),
        odometer_m=present(event, "odometer_m"),
        message_serial=event.origin.message_serial,
        archived=event.archived,
        received_time=event.received_time.ToDatetime(tzinfo=UTC)
        if event.HasField("received_time")
        else None,
    )


@dataclass
class StoreHealth:
    """Whether the last write reached the store; readiness and a metric report it."""

    healthy: bool = True


def keep_forever(device_id: str) -> int:
    return 0


@dataclass
class PositionWriter:
    store: PointWriter
    health: StoreHealth
    #: a device's retention as a TTL in seconds (0: until erased)
    retention: Callable[[str], int] = keep_forever

    async def handle(self, events: list[ConsumedEvent]) -> None:
        now = datetime.now(UTC)
        points = [point_of(e.message) for e in events if isinstance(e.message, PositionReported)]
        points.sort(key=lambda p: (p.device_id, p.fix_time))
        checked: list[TrackPoint] = []
        previous: TrackPoint | None = None
        for point in points:
            before = (
                previous if previous is not None and previous.device_id == point.device_id else None
            )
            verdict = flag(point, now=now, previous=before)
            checked.append(replace(point, flagged=verdict) if verdict else point)
            if verdict is None:
                previous = point
        ttls = {d: self.retention(d) for d in {p.device_id for p in checked}}
        await _stored(self.health, self.store.write(checked, ttls))


async def _stored(health: StoreHealth, write: Awaitable[None]) -> None:
    """Await a store write; a store failure pauses consumption (RetryableError) and readiness."""
    try:
        await write
    except (DriverException, NoHostAvailable, OSError) as err:
        # nothing is committed: the consumer retries this batch until the store is back
        if health.healthy:
            log.error("position store unavailable, consumption paused: %s", err)
        health.healthy = False
        raise RetryableError(f"position store unavailable: {type(err).__name__}") from err
    if not health.healthy:
        log.info("position store available again, consumption resumed")
    health.healthy = True


@dataclass
class AddressWriter:
    """Addresses from geocoding (``AddressResolved``) stored next to their positions, with the
    device's retention. An address whose position is not stored (yet) is kept all the same; it
    shows once the position is there."""

    store: AddressStore
    health: StoreHealth
    retention: Callable[[str], int] = keep_forever

    async def handle(self, events: list[ConsumedEvent]) -> None:
        addresses = [
            PointAddress(
                device_id=e.message.device_id,
                fix_time=e.message.fix_time.ToDatetime(tzinfo=UTC),
                message_serial=e.message.message_serial,
                address=e.message.place.address_line,
            )
            for e in events
            if isinstance(e.message, AddressResolved) and e.message.device_id
        ]
        ttls = {d: self.retention(d) for d in {a.device_id for a in addresses}}
        await _stored(self.health, self.store.write_addresses(addresses, ttls))


@dataclass
class HistoryHandler:
    """One consumer batch may hold positions and addresses: each goes to its writer."""

    positions: PositionWriter
    addresses: AddressWriter

    async def handle(self, events: list[ConsumedEvent]) -> None:
        if any(isinstance(e.message, PositionReported) for e in events):
            await self.positions.handle(events)
        if any(isinstance(e.message, AddressResolved) for e in events):
            await self.addresses.handle(events)
