"""Positions into the real Kafka, address events out: keyed by device, in each device's order."""

from __future__ import annotations

import uuid
from collections import defaultdict

from services.geocoding.tests.integration.conftest import StartGeocoding, read_from
from services.geocoding.tests.unit.conftest import position
from tests.integration.helpers import end_offsets, open_records
from trackstream.geocoding.v1.address_pb2 import AddressResolved
from trackstream_events.envelope import Envelope
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

POSITIONS = "tracking.positions.v1"
ADDRESSES = "geocoding.addresses.v1"
#: three devices driving away from three cities (about 1.1 km a step, so every fix is looked up,
#: with two fixes at a standstill each time, which reuse the place)
ROUTES = {
    "paris": ((48.8566, 2.3522), (0.01, 0.0), "FR"),
    "cape-town": ((-33.9249, 18.4241), (-0.01, 0.0), "ZA"),
    "tokyo": ((35.6762, 139.6503), (0.0, 0.01), "JP"),
}
STEPS = 12


async def test_positions_in_addresses_out_keyed_and_in_order_per_device(
    start_geocoding: StartGeocoding,
) -> None:
    app = await start_geocoding()
    run = uuid.uuid4().hex[:8]
    devices = {name: f"dev-geo-{name}-{run}" for name in ROUTES}
    before = await end_offsets(KafkaSettings(), ADDRESSES)
    outgoing = []
    expected: dict[str, list[int]] = defaultdict(list)
    for step in range(STEPS):
        for name, ((lat, lon), (dlat, dlon), _) in ROUTES.items():
            moved = step - step // 3  # every third fix repeats the one before
            serial = step + 1
            outgoing.append(
                Outgoing(
                    POSITIONS,
                    position(devices[name], lat + moved * dlat, lon + moved * dlon, serial),
                    devices[name],
                )
            )
            expected[devices[name]].append(serial)
    publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
    await publisher.start()
    try:
        sent = await publisher.publish_many(outgoing)
    finally:
        await publisher.stop()
    position_ids = {e.id for e in sent}

    ours = {d.encode() for d in devices.values()}
    records = await read_from(before, lambda r: r.key in ours, len(outgoing), within=60)
    assert len(records) == len(outgoing)

    by_device: dict[str, list[AddressResolved]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    # addresses are sealed under the device's key: opened as a consumer opens them
    addresses = await open_records(records, AddressResolved)
    for record, address in zip(records, addresses, strict=True):
        envelope = Envelope.from_headers(record.headers)
        assert envelope.type == "trackstream.geocoding.v1.AddressResolved"
        assert "ts-sealed" in dict(record.headers)
        assert record.key.decode() == address.device_id == envelope.subject
        assert address.position_event_id in position_ids
        assert envelope.causation_id == address.position_event_id
        by_device[address.device_id].append(address)
        partitions[address.device_id].add(record.partition)
    for name, (_, _, country) in ROUTES.items():
        device = devices[name]
        addresses = by_device[device]
        assert [a.message_serial for a in addresses] == expected[device]
        assert len(partitions[device]) == 1
        assert {a.place.country_code for a in addresses} == {country}
        # the fixes that repeat the one before reuse its place
        assert [a.reused for a in addresses] == [s > 0 and s % 3 == 0 for s in range(STEPS)]
    assert by_device[devices["paris"]][0].place.name == "Paris"
    assert by_device[devices["tokyo"]][0].place.name == "Tokyo"
    # (the topic is shared: other positions may have passed through this app too)
    assert app.geocoder.counts["reused"] >= 3 * ((STEPS - 1) // 3)
