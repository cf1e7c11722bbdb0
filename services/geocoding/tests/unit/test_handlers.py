"""Positions in, address events out: through the same handler the consumer calls, with the real
offline index and a fake publisher."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from geocoding.domain.movement import MovementFilter
from geocoding.domain.offline import OfflineIndex
from geocoding.handlers import ADDRESS_ID_NAMESPACE, ADDRESSES, PositionGeocoder
from geocoding.resolver import Resolver
from services.geocoding.tests.unit.conftest import consumed, position
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.geocoding.v1.place_pb2 import ADDRESS_SOURCE_OFFLINE
from trackstream_kafka import PublishError, RetryableError
from trackstream_testing import FakePublisher

NOW = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


class CountingIndex:
    """The real index, counting the batched queries made to it."""

    def __init__(self, index: OfflineIndex) -> None:
        self._index = index
        self.queries: list[int] = []

    def towns(self, latitudes, longitudes):
        self.queries.append(len(latitudes))
        return self._index.towns(latitudes, longitudes)

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)


def geocoder(
    index: OfflineIndex, *, threshold_m: float = 50.0
) -> tuple[PositionGeocoder, FakePublisher, CountingIndex]:
    counting = CountingIndex(index)
    publisher = FakePublisher(source="/geocoding")
    handler = PositionGeocoder(
        resolver=Resolver(counting, h3_resolution=9, cache_size=1000),  # type: ignore[arg-type]
        movement=MovementFilter(threshold_m, max_devices=100),
        publisher=publisher,
        clock=lambda: NOW,
    )
    return handler, publisher, counting


def addresses(publisher: FakePublisher) -> list[AddressResolved]:
    out = []
    for p in publisher.on(ADDRESSES):
        assert isinstance(p.message, AddressResolved)
        out.append(p.message)
    return out


async def test_every_position_gets_its_address_keyed_and_in_device_order(
    index: OfflineIndex,
) -> None:
    handler, publisher, counting = geocoder(index)
    route = {  # device -> its positions, interleaved in the batch
        "paris": [(48.8566, 2.3522), (48.87, 2.33), (48.90, 2.30)],
        "berlin": [(52.52, 13.405), (52.50, 13.40)],
        "london": [(51.5074, -0.1278)],
    }
    events = []
    serial = 0
    for i in range(3):
        for device, points in route.items():
            if i < len(points):
                serial += 1
                events.append(consumed(position(device, *points[i], serial), offset=serial))
    await handler.handle(events)

    published = publisher.on(ADDRESSES)
    assert [p.key for p in published] == [e.key for e in events]
    assert all(p.key == p.message.device_id for p in published)  # type: ignore[union-attr]
    for device in route:
        serials = [a.message_serial for a in addresses(publisher) if a.device_id == device]
        assert serials == sorted(serials) and len(serials) == len(route[device])
    first = addresses(publisher)[0]
    assert first.place.name == "Paris" and first.place.country_code == "FR"
    assert first.place.source == ADDRESS_SOURCE_OFFLINE
    assert (first.latitude, first.longitude) == (48.8566, 2.3522)
    assert first.fix_time == events[0].message.fix.fix_time  # type: ignore[attr-defined]
    assert first.position_event_id == events[0].envelope.id
    assert first.resolved_time.ToDatetime(tzinfo=UTC) == NOW
    berlin = [a for a in addresses(publisher) if a.device_id == "berlin"]
    assert {a.place.country_code for a in berlin} == {"DE"}
    # all misses of the batch went to the index in one query
    assert counting.queries == [6]
    # the address event is caused by its position, with a replay-stable id
    envelope = published[0].envelope
    assert envelope is not None and envelope.causation_id == events[0].envelope.id
    assert envelope.id == str(uuid.uuid5(ADDRESS_ID_NAMESPACE, events[0].envelope.id))


async def test_a_device_that_has_not_moved_reuses_its_place_without_a_lookup(
    index: OfflineIndex,
) -> None:
    handler, publisher, counting = geocoder(index, threshold_m=50.0)
    step = 10 / 111_195  # 10 m
    await handler.handle([consumed(position("d", 41.0082, 28.9784, 1))])
    await handler.handle(
        [consumed(position("d", 41.0082 + k * step, 28.9784, 1 + k)) for k in range(1, 5)]
    )
    out = addresses(publisher)
    assert [a.reused for a in out] == [False, True, True, True, True]
    assert {a.place.name for a in out} == {out[0].place.name}
    assert out[4].place.distance_m != out[0].place.distance_m  # measured from each fix
    assert counting.queries == [1]  # the second batch asked nothing
    assert handler.counts["reused"] == 4
    # moved beyond the threshold: looked up again (a cell it has not been to: a miss)
    await handler.handle([consumed(position("d", 41.0082 + 100 * step, 28.9784, 9))])
    assert addresses(publisher)[-1].reused is False
    assert counting.queries == [1, 1]


async def test_the_cache_answers_another_device_in_the_same_cell(index: OfflineIndex) -> None:
    handler, publisher, counting = geocoder(index)
    await handler.handle([consumed(position("a", 41.0082, 28.9784, 1))])
    await handler.handle([consumed(position("b", 41.00821, 28.97841, 1))])
    assert counting.queries == [1]
    assert handler.counts == {"looked_up": 1, "cache_hit": 1}
    assert addresses(publisher)[1].place.name == addresses(publisher)[0].place.name


async def test_impossible_coordinates_get_no_address(index: OfflineIndex) -> None:
    handler, publisher, _ = geocoder(index)
    await handler.handle(
        [
            consumed(position("d", 0.0, 0.0, 1)),
            consumed(position("d", 95.0, 10.0, 2)),
            consumed(position("d", float("nan"), 10.0, 3)),
            consumed(position("", 41.0082, 28.9784, 5)),
            consumed(position("d", 41.0082, 28.9784, 4)),
        ]
    )
    assert [a.message_serial for a in addresses(publisher)] == [4]
    assert handler.counts["skipped"] == 4


async def test_a_publish_failure_asks_for_a_retry(index: OfflineIndex) -> None:
    handler, publisher, _ = geocoder(index)
    publisher.fail_next = PublishError("not acknowledged")
    with pytest.raises(RetryableError):
        await handler.handle([consumed(position("d", 41.0082, 28.9784, 1))])
    await handler.handle([consumed(position("d", 41.0082, 28.9784, 1))])
    assert len(addresses(publisher)) == 1
