"""``trackstream-ingest``: run the ingest service (settings from INGEST_*, KAFKA_*, S3_*)."""

from __future__ import annotations

import asyncio

from ingest.bootstrap import bootstrap
from ingest.config import IngestSettings
from trackstream_servicekit import ServiceRunner, settle_garbage_collector


def main() -> None:
    settings = IngestSettings()
    runner = ServiceRunner("ingest", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)  # inside the loop: the Kafka clients bind to it

        async def ready() -> bool:
            return app.ready.is_set()

        async def settle_when_ready() -> None:
            await app.ready.wait()
            settle_garbage_collector()

        runner.add_readiness_check("device servers", ready)
        settling = asyncio.create_task(settle_when_ready())
        try:
            await app.run(stopping)
        finally:
            settling.cancel()

    runner.run_process(serve)


if __name__ == "__main__":
    main()
