"""``trackstream-media``: catalogue dashcam media, serve uploads and presigned downloads."""

from __future__ import annotations

import asyncio

from media.bootstrap import bootstrap
from media.config import MediaSettings
from trackstream_servicekit import ServiceRunner, settle_garbage_collector


def main() -> None:
    settings = MediaSettings()
    runner = ServiceRunner("media", settings)

    async def serve(stopping: asyncio.Event) -> None:
        service = bootstrap(settings)

        async def ready() -> bool:
            return service.ready.is_set()

        async def settle_when_ready() -> None:
            await service.ready.wait()
            settle_garbage_collector()  # the registry read model out of the collector's sight

        runner.add_readiness_check("consuming and serving", ready)
        settling = asyncio.create_task(settle_when_ready())
        try:
            await service.run(stopping)
        finally:
            settling.cancel()

    runner.run_process(serve)


if __name__ == "__main__":
    main()
