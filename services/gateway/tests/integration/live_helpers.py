"""Publishing positions as ingest does, and reading live messages from a WebSocket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import ClientConnection

from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import KafkaSettings

POSITIONS = "tracking.positions.v1"


async def publish_positions(device_ids: list[str], *, partition: int = 0) -> None:
    """One position per device, in this order, on one partition (so consumers see the order)."""
    producer = AIOKafkaProducer(bootstrap_servers=KafkaSettings().bootstrap_servers, acks="all")
    await producer.start()
    try:
        for i, device_id in enumerate(device_ids):
            now = datetime.now(UTC)
            event = PositionReported(
                device_id=device_id,
                fix=Fix(
                    fix_time=to_timestamp(now),
                    latitude=41.0 + i / 1000,
                    longitude=29.0,
                    speed_kmh=20.0,
                    valid=True,
                ),
                received_time=to_timestamp(now),
            )
            envelope = Envelope(
                type="trackstream.tracking.v1.PositionReported",
                source="/tests/gateway",
                subject=device_id,
            )
            await producer.send_and_wait(
                POSITIONS,
                event.SerializeToString(),
                key=device_id.encode(),
                partition=partition,
                headers=envelope.to_headers(),
            )
    finally:
        await producer.stop()


async def received(
    socket: ClientConnection, *, until: str, count: int = 1, within: float = 10.0
) -> list[str]:
    """Device ids of the messages up to the ``count``-th one of device ``until``."""
    seen: list[str] = []
    async with asyncio.timeout(within):
        while seen.count(until) < count:
            message = json.loads(await socket.recv())
            seen.append(message["device_id"])
    return seen
