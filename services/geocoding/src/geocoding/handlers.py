"""Positions become address events, in the order of each device's positions.

For a batch of consumed positions: impossible coordinates are skipped; a device that has not
moved beyond the threshold since its last looked-up fix reuses that fix's place; the other
fixes are looked up by H3 cell (cache, then one offline query for all misses, then the
provider if configured); one ``AddressResolved`` per position is published, keyed by device,
in consumption order (``publish_many`` keeps it), and only then is the batch committed."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from geocoding.domain.model import Place, Source, distance_m, possible
from geocoding.domain.movement import Anchor, MovementFilter
from geocoding.metrics import POSITIONS
from geocoding.resolver import Resolver
from trackstream.geocoding.v1 import address_pb2, place_pb2
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import ConsumedEvent, Outgoing, PublishError, RetryableError

log = logging.getLogger(__name__)

ADDRESSES = "geocoding.addresses.v1"
#: ce_id of an address = uuid5(this, ce_id of its position): a replay publishes the same id
ADDRESS_ID_NAMESPACE = uuid.UUID("8f0f6f7e-5d5e-4c1a-9a52-6c1f3f0e2a61")
_NAMESPACE_BYTES = ADDRESS_ID_NAMESPACE.bytes

_SOURCES = {
    Source.OFFLINE: place_pb2.ADDRESS_SOURCE_OFFLINE,
    Source.NOMINATIM: place_pb2.ADDRESS_SOURCE_NOMINATIM,
    Source.PHOTON: place_pb2.ADDRESS_SOURCE_PHOTON,
}


class AddressPublisher(Protocol):
    """What the handler needs of ``EventPublisher``."""

    async def publish_many(self, items: Sequence[Outgoing]) -> Sequence[Envelope]: ...


def address_event_id(position_event_id: str) -> str:
    """``str(uuid.uuid5(ADDRESS_ID_NAMESPACE, position_event_id))``, without building UUID
    objects (a third of the handler's time otherwise)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + position_event_id.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def place_message(place: Place) -> place_pb2.Place:
    return place_pb2.Place(
        name=place.name,
        region=place.region,
        subregion=place.subregion,
        country=place.country,
        country_code=place.country_code,
        latitude=place.latitude,
        longitude=place.longitude,
        distance_m=place.distance_m,
        address_line=place.address_line,
        source=_SOURCES[place.source],
        street=place.street,
        postcode=place.postcode,
    )


@dataclass(slots=True)
class _Pending:
    event: ConsumedEvent
    position: PositionReported
    anchor: Anchor
    reused: bool


@dataclass
class PositionGeocoder:
    resolver: Resolver
    movement: MovementFilter
    publisher: AddressPublisher
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: per outcome (reused, cache_hit, looked_up, skipped), since start
    counts: Counter[str] = field(default_factory=Counter)

    async def handle(self, events: list[ConsumedEvent]) -> None:
        pending: list[_Pending] = []
        lookups: dict[str, tuple[float, float]] = {}
        outcomes: Counter[str] = Counter()
        for event in events:
            position = event.message
            if not isinstance(position, PositionReported):
                continue
            lat, lon = position.fix.latitude, position.fix.longitude
            device = position.device_id
            if not device or not possible(lat, lon):  # nothing to key it by, or nowhere
                outcomes["skipped"] += 1
                continue
            anchor = self.movement.unmoved(device, lat, lon)
            if anchor is not None:
                outcomes["reused"] += 1
                pending.append(_Pending(event, position, anchor, reused=True))
                continue
            cell = self.resolver.cell(lat, lon)
            if cell in lookups or self.resolver.cached(cell):
                outcomes["cache_hit"] += 1
            else:
                outcomes["looked_up"] += 1
            lookups.setdefault(cell, (lat, lon))
            anchor = Anchor(lat, lon, cell)
            self.movement.moved(device, anchor)
            pending.append(_Pending(event, position, anchor, reused=False))
        places = await self.resolver.resolve(lookups)
        now = to_timestamp(self.clock())
        outgoing: list[Outgoing] = []
        messages: dict[int, place_pb2.Place] = {}  # one message per distinct place
        for p in pending:
            anchor = p.anchor
            if anchor.place is None:  # looked up in this batch
                anchor.place = places[anchor.cell]
            place = anchor.place
            fix = p.position.fix
            message = messages.get(id(place))
            if message is None:
                message = messages[id(place)] = place_message(place)
            address = address_pb2.AddressResolved(
                device_id=p.position.device_id,
                fix_time=fix.fix_time,
                message_serial=p.position.origin.message_serial,
                position_event_id=p.event.envelope.id,
                latitude=fix.latitude,
                longitude=fix.longitude,
                place=message,
                resolved_time=now,
                reused=p.reused,
            )
            address.place.distance_m = distance_m(
                fix.latitude, fix.longitude, place.latitude, place.longitude
            )
            outgoing.append(
                Outgoing(
                    ADDRESSES,
                    address,
                    p.position.device_id,
                    cause=p.event.envelope,
                    event_id=address_event_id(p.event.envelope.id),
                )
            )
        try:
            await self.publisher.publish_many(outgoing)
        except PublishError as err:
            # nothing is committed: the consumer retries the batch
            raise RetryableError(f"addresses not acknowledged: {err}") from err
        for outcome, count in outcomes.items():
            POSITIONS.labels(outcome).inc(count)
        self.counts.update(outcomes)
