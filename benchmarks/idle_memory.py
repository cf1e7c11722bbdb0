"""Memory per idle device connection: RSS of the ingest process before and after N logged-in
devices that then stay silent, against the same number of idle connections held by a bare
asyncio server (the floor any asyncio TCP server pays)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from benchmarks.common import Result
from benchmarks.ingest_process import IngestProcess, free_port, register
from trackstream_protocols.gt06 import device as gt06_device

BARE_SERVER = """
import asyncio, sys
async def hold(reader, writer):
    await reader.read()
async def main():
    server = await asyncio.start_server(hold, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


async def open_idle(port: int, count: int, imeis: list[str] | None) -> list[asyncio.StreamWriter]:
    writers = []
    for n in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if imeis is not None:
            writer.write(gt06_device.encode_login(imeis[n], serial=1))
            await reader.readexactly(10)
        writers.append(writer)
    await asyncio.sleep(1)
    return writers


async def measure(count: int) -> tuple[float, float]:
    run = uuid.uuid4().int % 100_000
    imeis = [f"36{run:05d}{n:08d}" for n in range(count)]
    await register({imei: f"bench-idle-{run}-{n}" for n, imei in enumerate(imeis)})
    async with IngestProcess() as ingest:
        await asyncio.sleep(1)
        before = ingest.rss_bytes()
        writers = await open_idle(ingest.gt06_port, count, imeis)
        ours = (ingest.rss_bytes() - before) / count
        for w in writers:
            w.close()

    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(port)], env=os.environ)
    try:
        for _ in range(100):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        before = rss_of(bare.pid)
        writers = await open_idle(port, count, None)
        floor = (rss_of(bare.pid) - before) / count
        for w in writers:
            w.close()
    finally:
        bare.terminate()
        bare.wait(10)
    return ours, floor


def run(count: int = 1000) -> Result:
    ours, floor = asyncio.run(measure(count))
    return Result(
        name="memory per idle connection",
        value=ours,
        baseline=floor,
        unit="bytes",
        ratio=floor / ours if ours > 0 else 0.0,
        details={
            "connections": count,
            "note": "ratio = bare asyncio floor / ingest (higher is leaner)",
        },
    )


if __name__ == "__main__":
    print(run().line())
