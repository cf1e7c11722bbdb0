"""``trackstream-geocoding``: resolve every position to an address; answer lookups over gRPC."""

from __future__ import annotations

import asyncio
import logging

from geocoding.adapters.geonames import load_index
from geocoding.bootstrap import GeocodingApp, bootstrap
from geocoding.config import GeocodingSettings
from trackstream_servicekit import ServiceRunner

log = logging.getLogger("geocoding")


def main() -> None:
    settings = GeocodingSettings()
    runner = ServiceRunner("geocoding", settings)
    started: list[GeocodingApp] = []

    async def ready() -> bool:
        return bool(started) and started[0].ready.is_set()

    # registered first: /readyz says 503 while the dataset loads
    runner.add_readiness_check("consuming and serving", ready)

    async def serve(stopping: asyncio.Event) -> None:
        # the dataset loads in a worker thread, so /healthz answers meanwhile
        index, seconds = await asyncio.to_thread(load_index)
        log.info(
            "offline dataset loaded", extra={"towns": len(index), "seconds": round(seconds, 2)}
        )
        app = bootstrap(settings, index=index)
        started.append(app)
        await app.run(stopping)

    runner.run_process(serve)


if __name__ == "__main__":
    main()
