"""``trackstream-ingest``: run the ingest service (settings from INGEST_*, KAFKA_*, S3_*)."""

from __future__ import annotations

import asyncio

from ingest.bootstrap import bootstrap
from ingest.config import IngestSettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = IngestSettings()
    runner = ServiceRunner("ingest", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)  # inside the loop: the Kafka clients bind to it

        async def ready() -> bool:
            return app.ready.is_set()

        runner.add_readiness_check("device servers", ready)
        await app.run(stopping)

    asyncio.run(runner.run(serve))


if __name__ == "__main__":
    main()
