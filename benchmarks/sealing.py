"""What sealing costs on ingest's path: positions/s through ``EventPublisher.publish_many``
(envelope, headers, value; sealed: the key cache, the field split, AES-256-GCM) into a producer
that acknowledges at once, in batches of 4 positions of 100 devices (ingest publishes a frame's
positions together). Baseline: the same publisher without data keys (plain values). The keys are
in memory and warmed, as in a running ingest whose devices were seen before: the store's round
trip happens once per device per cache TTL, not per position.

Also reported: the seal and open calls alone per position (µs), and the record sizes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.common import Result, best_rates
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka.publisher import EventPublisher, Outgoing
from trackstream_kafka.sealing import DataKey, DataKeys, InMemoryDataKeyStore, open_into, seal

TOPIC = "tracking.positions.v1"
DEVICES = 100
BATCH = 4
BATCHES = 500


class _AckingProducer:
    """Acknowledges every record at once (the broker is not what is measured)."""

    def __init__(self) -> None:
        self.bytes = 0

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any, **_: Any) -> Any:
        self.bytes += len(value) + sum(len(v) for _, v in headers)
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _position(device: int, serial: int) -> PositionReported:
    event = PositionReported(
        device_id=f"bench-seal-{device}",
        fix=Fix(latitude=52.5 + serial * 1e-5, longitude=13.4, speed_kmh=42.0, valid=True),
        origin=Origin(message_serial=serial),
        ignition=True,
        battery_percent=80,
    )
    event.fix.fix_time.FromSeconds(1_700_000_000 + serial)
    event.received_time.FromSeconds(1_700_000_000 + serial)
    return event


def _batches() -> list[list[Outgoing]]:
    return [
        [
            Outgoing(TOPIC, _position(d, b), f"bench-seal-{d}")
            for d in range((b * BATCH) % DEVICES, (b * BATCH) % DEVICES + BATCH)
        ]
        for b in range(BATCHES)
    ]


def _per_call_us(call: Any, n: int = 20_000) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - started) / n)
    return round(best * 1e6, 2)


def run() -> Result:
    loop = asyncio.new_event_loop()
    batches = _batches()
    keys = DataKeys(InMemoryDataKeyStore())
    loop.run_until_complete(keys.for_sealing({o.key for b in batches for o in b}))
    plain_producer, sealed_producer = _AckingProducer(), _AckingProducer()
    plain = EventPublisher(plain_producer, source="/bench")
    sealed = EventPublisher(sealed_producer, source="/bench", data_keys=keys)

    def through(publisher: EventPublisher) -> int:
        async def all_batches() -> None:
            for batch in batches:
                await publisher.publish_many(batch)

        loop.run_until_complete(all_batches())
        return BATCH * BATCHES

    sealed_rate, plain_rate = best_rates(lambda: through(sealed), lambda: through(plain))
    loop.close()
    event, key = _position(1, 1), DataKey.generate()
    value, header = seal(event, topic=TOPIC, record_key=b"d", event_id=b"e", key=key)

    def opened() -> None:
        message = PositionReported.FromString(value)
        open_into(message, header, topic=TOPIC, record_key=b"d", event_id=b"e", key=key)

    return Result(
        name="sealing",
        value=sealed_rate,
        baseline=plain_rate,
        unit="pos/s",
        ratio=sealed_rate / plain_rate,
        details={
            "publish_us_per_position_sealed": round(1e6 / sealed_rate, 2),
            "publish_us_per_position_plain": round(1e6 / plain_rate, 2),
            "seal_us": _per_call_us(
                lambda: seal(event, topic=TOPIC, record_key=b"d", event_id=b"e", key=key)
            ),
            "serialize_us": _per_call_us(event.SerializeToString),
            "open_us": _per_call_us(opened),
            "parse_us": _per_call_us(lambda: PositionReported.FromString(value)),
            "plain_value_bytes": len(event.SerializeToString()),
            "sealed_value_bytes": len(value),
            "sealed_header_bytes": len(header),
        },
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    for name, figure in result.details.items():
        print(f"  {name}: {figure}")
