"""Frames per second from TCP into Kafka: devices → ingest (its own process) → Kafka, each
device waiting for the ACK of every frame, against a raw aiokafka producer loop sending the
records ingest writes (PositionReported sealed under a device key, with its envelope headers),
built in advance, with the same producer settings and the same concurrency."""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
import uuid
from typing import cast

import uvloop

from benchmarks.common import Result, route_fixes
from benchmarks.ingest_process import IngestProcess, register
from ingest.domain import events
from ingest.domain.reports import PositionReport
from trackstream_events.envelope import Envelope
from trackstream_kafka import KafkaSettings
from trackstream_kafka.publisher import make_producer
from trackstream_kafka.sealing import SEALED_HEADER, DataKey, seal
from trackstream_protocols.gt06 import device as gt06_device

TARGET = 0.5
TOPIC = "tracking.positions.v1"
ACK_SIZE = 10  # a GT06 ACK: 78 78 05 proto serial(2) crc(2) 0d 0a


def imei_of(n: int, run: int) -> str:
    return f"35{run:05d}{n:08d}"


async def raw_producer(devices: int, per_device: int) -> float:
    settings = KafkaSettings()
    producer = make_producer(settings, client_id="bench-raw")
    await producer.start()
    origin = events.origin(1, 0, "bench", True)
    # the records ingest writes: positions sealed under the device's data key (value without
    # the personal fields, the whole event in the ts-sealed header), all built before timing
    payloads: dict[str, list[tuple[bytes, list[tuple[str, bytes]]]]] = {}
    for d in range(devices):
        device_id = f"bench-raw-{d}"
        key = DataKey.generate()
        payloads[device_id] = []
        for i, fix in enumerate(route_fixes(per_device, lane=d)):
            envelope = Envelope(
                type="trackstream.tracking.v1.PositionReported",
                source="/ingest",
                subject=device_id,
            )
            value, sealed = seal(
                events.position_reported(
                    PositionReport(fix, i),
                    device_id=device_id,
                    received=fix.fix_time,
                    origin_=origin,
                ),
                topic=TOPIC,
                record_key=device_id.encode(),
                event_id=envelope.id.encode(),
                key=key,
            )
            payloads[device_id].append((value, [*envelope.to_headers(), (SEALED_HEADER, sealed)]))

    async def device(device_id: str) -> None:
        for value, headers in payloads[device_id]:
            await producer.send_and_wait(
                TOPIC, value=value, key=device_id.encode(), headers=headers
            )

    started = time.perf_counter()
    await asyncio.gather(*(device(d) for d in payloads))
    elapsed = time.perf_counter() - started
    await producer.stop()
    return devices * per_device / elapsed


async def compare(devices: int, per_device: int, *, rounds: int) -> tuple[list[float], list[float]]:
    """``rounds`` rates of the raw loop and of ingest, alternating (raw, ingest, raw, ...), each
    ingest round with devices of its own, against one ingest process.

    Alternating matters on a shared machine: whatever reads ``tracking.positions.v1`` downstream
    (history, when the platform is up) is still busy with the records of the phase before, so
    a single raw-then-ingest pair hands ingest the busier second slot every time."""
    run = uuid.uuid4().int % 100_000
    fleets = [
        {imei_of(r * devices + n, run): f"bench-{run}-{r}-{n}" for n in range(devices)}
        for r in range(rounds)
    ]
    await register({imei: device for fleet in fleets for imei, device in fleet.items()})
    raw_rates: list[float] = []
    ingest_rates: list[float] = []
    async with IngestProcess() as ingest:
        for fleet in fleets:
            raw_rates.append(await raw_producer(devices, per_device))
            frames = {
                imei: [
                    gt06_device.encode_location(fix, serial=(i + 2) % 65536)
                    for i, fix in enumerate(route_fixes(per_device, lane=n))
                ]
                for n, imei in enumerate(fleet)
            }
            elapsed = await asyncio.to_thread(drive, ingest.gt06_port, fleet, frames)
            ingest_rates.append(devices * per_device / elapsed)
    return raw_rates, ingest_rates


def drive(port: int, imeis: dict[str, str], frames: dict[str, list[bytes]]) -> float:
    """The devices, as cheaply as Python allows (non-blocking sockets and one selector, no
    asyncio), so the client takes as little CPU from ingest as possible on a small machine.
    Each device sends its next frame only after the ACK of the previous one."""
    sel = selectors.DefaultSelector()
    pending: dict[socket.socket, list[bytes]] = {}
    for imei in imeis:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(gt06_device.encode_login(imei, serial=1))
        _read_ack(sock)
        sock.setblocking(False)
        pending[sock] = list(reversed(frames[imei]))
    started = time.perf_counter()
    for sock, queue in pending.items():
        sock.send(queue.pop())
        sel.register(sock, selectors.EVENT_READ)
    open_devices = len(pending)
    while open_devices:
        for key, _ in sel.select(timeout=30):
            sock = cast(socket.socket, key.fileobj)
            ack = sock.recv(ACK_SIZE)
            assert len(ack) == ACK_SIZE, "ingest closed a connection or split an ACK"
            queue = pending[sock]
            if queue:
                sock.send(queue.pop())
            else:
                sel.unregister(sock)
                sock.close()
                open_devices -= 1
    return time.perf_counter() - started


def _read_ack(sock: socket.socket) -> None:
    data = b""
    while len(data) < ACK_SIZE:
        chunk = sock.recv(ACK_SIZE - len(data))
        assert chunk, "ingest closed the connection"
        data += chunk


def run(devices: int = 100, per_device: int = 100, rounds: int = 3) -> Result:
    """Best of ``rounds`` alternating rounds on each side (as :func:`benchmarks.common.best_rates`
    does for the decoders)."""
    # on uvloop, as ingest itself runs (``ServiceRunner.run_process``): the same event loop on
    # both sides of the ratio
    raw_rates, ingest_rates = uvloop.run(compare(devices, per_device, rounds=rounds))
    baseline, value = max(raw_rates), max(ingest_rates)
    return Result(
        name="tcp -> kafka (gt06)",
        value=value,
        baseline=baseline,
        unit="frames/s",
        ratio=value / baseline,
        target=TARGET,
        details={
            "devices": devices,
            "frames_per_device": per_device,
            "rounds": rounds,
            "raw_rates": [round(r) for r in raw_rates],
            "ingest_rates": [round(r) for r in ingest_rates],
        },
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    rounds = result.details
    print(f"  rounds: raw {rounds['raw_rates']}, ingest {rounds['ingest_rates']}")
