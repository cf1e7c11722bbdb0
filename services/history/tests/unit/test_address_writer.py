"""Addresses from geocoding: stored by their position's key with the device's retention; a
mixed batch reaches both writers; a store outage pauses consumption."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from cassandra.cluster import NoHostAvailable
from google.protobuf.timestamp_pb2 import Timestamp

from history.domain.model import PointAddress
from history.handlers import AddressWriter, HistoryHandler, PositionWriter, StoreHealth
from services.history.tests.unit.test_writer import FakeStore, consumed
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream.geocoding.v1.place_pb2 import Place
from trackstream_events.envelope import Envelope
from trackstream_kafka import ConsumedEvent, RetryableError

WHEN = datetime(2026, 11, 29, 6, 0, 10, tzinfo=UTC)


class FakeAddressStore:
    def __init__(self) -> None:
        self.addresses: list[PointAddress] = []
        self.ttls: dict[str, int] = {}
        self.down = False

    async def write_addresses(
        self, addresses: Sequence[PointAddress], ttl_seconds: Mapping[str, int] | None = None
    ) -> None:
        if self.down:
            raise NoHostAvailable("all hosts down", {})
        self.addresses += addresses
        self.ttls.update(ttl_seconds or {})


def address(device: str, serial: int, line: str) -> ConsumedEvent:
    ts = Timestamp()
    ts.FromDatetime(WHEN)
    event = AddressResolved(
        device_id=device,
        fix_time=ts,
        message_serial=serial,
        place=Place(name=line.split(",")[0], address_line=line),
    )
    envelope = Envelope(
        type="trackstream.geocoding.v1.AddressResolved", source="/geocoding", subject=device
    )
    return ConsumedEvent(envelope, event, device, "geocoding.addresses.v1", 0, serial)


async def test_addresses_are_stored_by_their_positions_key_with_retention() -> None:
    store = FakeAddressStore()
    writer = AddressWriter(store, StoreHealth(), retention=lambda d: 86400 if d == "a" else 0)
    await writer.handle(
        [address("a", 7, "Kehl, Baden-Wuerttemberg, Germany"), address("b", 1, "X")]
    )
    assert store.addresses[0] == PointAddress("a", WHEN, 7, "Kehl, Baden-Wuerttemberg, Germany")
    assert store.ttls == {"a": 86400, "b": 0}


async def test_a_mixed_batch_reaches_both_writers() -> None:
    positions, addresses = FakeStore(), FakeAddressStore()
    health = StoreHealth()
    handler = HistoryHandler(PositionWriter(positions, health), AddressWriter(addresses, health))
    await handler.handle([consumed("a", WHEN, 7), address("a", 7, "Here")])
    assert [p.message_serial for p in positions.rows] == [7]
    assert [a.address for a in addresses.addresses] == ["Here"]


async def test_an_address_store_outage_pauses_consumption() -> None:
    store = FakeAddressStore()
    health = StoreHealth()
    store.down = True
    with pytest.raises(RetryableError):
        await AddressWriter(store, health).handle([address("a", 1, "Here")])
    assert not health.healthy
    store.down = False
    await AddressWriter(store, health).handle([address("a", 1, "Here")])
    assert health.healthy and len(store.addresses) == 1
