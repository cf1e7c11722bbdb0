"""``trackstream-history``: consume positions into Cassandra and answer history queries."""

from __future__ import annotations

import asyncio

from history.bootstrap import bootstrap
from history.config import HistorySettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = HistorySettings()
    runner = ServiceRunner("history", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)

        async def ready() -> bool:
            return app.ready.is_set() and app.health.healthy

        runner.add_readiness_check("consuming and storing", ready)
        await app.run(stopping)

    runner.run_process(serve)


if __name__ == "__main__":
    main()
