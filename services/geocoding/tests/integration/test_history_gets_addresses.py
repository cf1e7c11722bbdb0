"""End to end on the real stack: positions into Kafka, geocoding and history both running; the
track read from history carries each position's address."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

from history.bootstrap import bootstrap as history_bootstrap
from history.config import HistorySettings
from services.geocoding.tests.integration.conftest import StartGeocoding
from services.geocoding.tests.unit.conftest import position
from services.history.tests.integration.conftest import DAY, track
from tests.integration.helpers import start_group_at_end
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing


async def test_the_track_in_history_shows_the_geocoded_addresses(
    start_geocoding: StartGeocoding,
) -> None:
    await start_geocoding()
    group = f"history-test-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(
        KafkaSettings(), group, "tracking.positions.v1", "geocoding.addresses.v1"
    )
    history = history_bootstrap(HistorySettings(grpc_port=0, consumer_group=group))
    stopping = asyncio.Event()
    running = asyncio.create_task(history.run(stopping))
    try:
        ready = asyncio.create_task(history.ready.wait())
        await asyncio.wait({ready, running}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()
        device = f"dev-geo-e2e-{uuid.uuid4().hex[:8]}"
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        # from Kehl across the Rhine into Strasbourg, a fix every 10 s
        route = [(48.5722, 7.8153), (48.5725, 7.8000), (48.5730, 7.7800), (48.5734, 7.7521)]
        publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
        await publisher.start()
        try:
            await publisher.publish_many(
                [
                    Outgoing(
                        "tracking.positions.v1",
                        position(device, lat, lon, i, start + timedelta(seconds=10 * i)),
                        device,
                    )
                    for i, (lat, lon) in enumerate(route)
                ]
            )
        finally:
            await publisher.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        points = []
        while loop.time() < deadline:
            points = await track(history, device, start, start + DAY)
            if len(points) == len(route) and all(p.address for p in points):
                break
            await asyncio.sleep(0.2)
        assert [p.message_serial for p in points] == list(range(len(route)))
        assert points[0].address == "Kehl, Baden-Wuerttemberg, Germany"
        assert points[-1].address == "Strasbourg, Alsace, France"
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, 60)
