"""One ingest process holds 1,000 concurrent device connections, each logged in and served."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from services.ingest.tests.integration.conftest import StartIngest, register, unique_imei
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.model import Fix

DEVICES = 1000


async def test_a_thousand_concurrent_connections_are_all_served(start_ingest: StartIngest) -> None:
    run = uuid.uuid4().hex[:8]
    imeis = {unique_imei(): f"dev-k{run}-{n}" for n in range(DEVICES)}
    await register(imeis)
    app = await start_ingest()
    port = app.ports["gt06"]
    all_connected = asyncio.Event()
    release = asyncio.Event()
    connected = 0
    acked = 0

    async def device(n: int, imei: str) -> None:
        nonlocal connected, acked
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        splitter = gt06.Gt06FrameSplitter()
        fix = Fix(datetime(2026, 11, 29, 10, 0, n % 60, tzinfo=UTC), 41.0, 29.0, 10.0, 0.0, True)
        for frame in (
            gt06_device.encode_login(imei, serial=1),
            gt06_device.encode_location(fix, serial=2),
        ):
            writer.write(frame)
            async with asyncio.timeout(60):
                frames: list[gt06.Gt06Frame] = []
                while not frames:
                    data = await reader.read(256)
                    assert data, "ingest closed a connection"
                    frames = splitter.feed(data)
            acked += 1
        connected += 1
        if connected == DEVICES:
            all_connected.set()
        await release.wait()  # hold the connection open until all are up at once
        writer.close()

    tasks = [asyncio.create_task(device(n, imei)) for n, imei in enumerate(imeis)]
    waiter = asyncio.create_task(all_connected.wait())
    # device tasks only end early by failing; the waiter ends when all are served at once
    done, _ = await asyncio.wait({waiter, *tasks}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    for task in done - {waiter}:
        task.result()
    assert all_connected.is_set(), f"only {connected} of {DEVICES} connections were served"
    assert app.connections.open == DEVICES
    assert len(app.connections.all()) == DEVICES, "every device is reachable for commands"
    assert acked == 2 * DEVICES
    release.set()
    await asyncio.gather(*tasks)
