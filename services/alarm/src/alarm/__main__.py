"""``trackstream-alarm``: the alarm engine, its history store and the AlarmService gRPC API."""

from __future__ import annotations

import asyncio

from alarm.bootstrap import bootstrap
from alarm.config import AlarmSettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = AlarmSettings()
    runner = ServiceRunner("alarm", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)

        async def ready() -> bool:
            return app.ready.is_set()

        runner.add_readiness_check("consuming and serving", ready)
        await app.run(stopping)

    asyncio.run(runner.run(serve))


if __name__ == "__main__":
    main()
