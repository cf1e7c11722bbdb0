"""``trackstream-geocoding``: resolve every position to an address; answer lookups over gRPC."""

from __future__ import annotations

import asyncio

from geocoding.bootstrap import bootstrap
from geocoding.config import GeocodingSettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = GeocodingSettings()
    runner = ServiceRunner("geocoding", settings)

    async def serve(stopping: asyncio.Event) -> None:
        # the dataset loads in a worker thread: /healthz answers meanwhile
        app = await asyncio.to_thread(bootstrap, settings)

        async def ready() -> bool:
            return app.ready.is_set()

        runner.add_readiness_check("consuming and serving", ready)
        await app.run(stopping)

    asyncio.run(runner.run(serve))


if __name__ == "__main__":
    main()
