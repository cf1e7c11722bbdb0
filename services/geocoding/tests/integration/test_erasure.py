"""Geocoding's part in an erasure, on the real Kafka: the running service forgets the device's
last looked-up fix (its only memory of a device) and acknowledges the order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from geocoding.erasure import PARTICIPANT
from privacy.domain.plan import PARTICIPANT_STORES
from services.geocoding.tests.integration.conftest import StartGeocoding, read_from
from services.geocoding.tests.unit.conftest import position
from tests.integration.helpers import acknowledgement, end_offsets, erasure_order
from trackstream.privacy.v1.erasure_pb2 import SubjectKind
from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_kafka.erasure import ACKS_TOPIC, ORDERS_TOPIC

POSITIONS = "tracking.positions.v1"
ADDRESSES = "geocoding.addresses.v1"


def keyed(key: bytes) -> Callable[[Any], bool]:
    return lambda record: bool(record.key == key)


async def test_the_running_service_forgets_an_erased_device_and_acknowledges(
    start_geocoding: StartGeocoding,
) -> None:
    app = await start_geocoding()
    run = uuid.uuid4().hex[:8]
    erased, kept = f"dev-geo-erase-{run}", f"dev-geo-keep-{run}"
    kafka = KafkaSettings()
    publisher = EventPublisher.create(kafka, source="/tests/geocoding-erasure")
    await publisher.start()
    try:
        addresses = await end_offsets(kafka, ADDRESSES)
        for device in (erased, kept):
            await publisher.publish(POSITIONS, position(device, 48.8566, 2.3522, 1), key=device)
        for device in (erased, kept):  # (the local stack's geocoding may resolve them too)
            found = await read_from(addresses, keyed(device.encode()), 1, 30)
            assert found, device
        movement = app.geocoder.movement
        assert movement.unmoved(erased, 48.8566, 2.3522) is not None

        since = await end_offsets(kafka, ACKS_TOPIC)
        order = erasure_order(SubjectKind.SUBJECT_KIND_DEVICE, erased, device_ids=[erased])
        await publisher.publish(ORDERS_TOPIC, order, key=order.request_id)
        ack = await acknowledgement(kafka, order.request_id, PARTICIPANT, since)
    finally:
        await publisher.stop()

    assert {s.store for s in ack.stores} == set(PARTICIPANT_STORES[PARTICIPANT])
    assert ack.stores[0].deleted == 1
    assert movement.unmoved(erased, 48.8566, 2.3522) is None
    assert movement.unmoved(kept, 48.8566, 2.3522) is not None
