"""``trackstream-alarm``: the alarm engine, its history store and the AlarmService gRPC API."""

from __future__ import annotations

import asyncio

from alarm.bootstrap import bootstrap
from alarm.config import AlarmSettings
from trackstream_servicekit import ServiceRunner, settle_garbage_collector


def main() -> None:
    settings = AlarmSettings()
    runner = ServiceRunner("alarm", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)

        async def ready() -> bool:
            return app.ready.is_set()

        async def settle_when_ready() -> None:
            # the tables (10,000 geofences and their index) and the restored states are loaded
            await app.ready.wait()
            settle_garbage_collector()

        runner.add_readiness_check("consuming and serving", ready)
        settling = asyncio.create_task(settle_when_ready())
        try:
            await app.run(stopping)
        finally:
            settling.cancel()

    runner.run_process(serve)


if __name__ == "__main__":
    main()
