"""Geocoding's part in an erasure (docs/architecture.md, "Erasure"): the only thing it keeps
about a device is, in memory, the last fix it looked up (the movement filter's anchor). The
place cache is keyed by map cell, not by device, and holds no subject. Every replica holds its
own anchors, so every replica reads the orders in a group of its own (``ORDERS_GROUP`` + a
suffix): the anchor goes from each of them."""

from __future__ import annotations

from datetime import UTC, datetime

from geocoding.domain.movement import MovementFilter
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_events.timestamps import to_timestamp

PARTICIPANT = "geocoding"


class GeocodingErasure:
    def __init__(self, movement: MovementFilter) -> None:
        self._movement = movement

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        dropped = sum(self._movement.forget(device_id) for device_id in order.device_ids)
        return [
            StoreErased(
                store="memory:movement",
                mechanism="cache-drop",
                deleted=dropped,
                physically_gone_by=to_timestamp(datetime.now(UTC)),
            )
        ]
