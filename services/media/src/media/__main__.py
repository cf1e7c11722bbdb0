"""``trackstream-media``: catalogue dashcam media, serve uploads and presigned downloads."""

from __future__ import annotations

import asyncio

from media.bootstrap import bootstrap
from media.config import MediaSettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = MediaSettings()
    runner = ServiceRunner("media", settings)

    async def serve(stopping: asyncio.Event) -> None:
        service = bootstrap(settings)

        async def ready() -> bool:
            return service.ready.is_set()

        runner.add_readiness_check("consuming and serving", ready)
        await service.run(stopping)

    asyncio.run(runner.run(serve))


if __name__ == "__main__":
    main()
