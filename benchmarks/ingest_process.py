"""Run ingest in its own process for benchmarks, and register the devices it will see."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

KEY = b"benchmark-identifier-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def register(devices: dict[str, str]) -> None:
    publisher = EventPublisher.create(KafkaSettings(), source="/benchmarks")
    await publisher.start()
    try:
        items = [
            Outgoing(
                "identity.device-registry.v1",
                DeviceRegistered(device_id=d, identifier_hmac=identifier_hmac(KEY, i)),
                d,
            )
            for i, d in devices.items()
        ]
        for start in range(0, len(items), 500):
            await publisher.publish_many(items[start : start + 500])
    finally:
        await publisher.stop()


class IngestProcess:
    def __init__(self) -> None:
        self.gt06_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> IngestProcess:
        env = {
            **os.environ,
            "INGEST_GT06_PORT": str(self.gt06_port),
            "INGEST_JT808_PORT": str(free_port()),
            "INGEST_OSMAND_PORT": str(free_port()),
            "INGEST_OPS_PORT": "0",
            "INGEST_IDENTIFIER_KEY": KEY.decode(),
            "INGEST_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parents[1],
        )
        for _ in range(600):
            if self.process.poll() is not None:
                raise RuntimeError("ingest exited during start-up")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.gt06_port)
                writer.close()
                return self
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("ingest did not start listening")

    def rss_bytes(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 30)
