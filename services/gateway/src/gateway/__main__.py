"""``trackstream-gateway``: the REST API and live WebSockets, in front of identity, history and
geocoding."""

from __future__ import annotations

import asyncio

from gateway.bootstrap import bootstrap
from gateway.config import GatewaySettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = GatewaySettings()
    runner = ServiceRunner("gateway", settings)

    async def serve(stopping: asyncio.Event) -> None:
        gateway = bootstrap(settings)

        async def ready() -> bool:
            return gateway.ready.is_set()

        runner.add_readiness_check("read model loaded, serving", ready)
        await gateway.run(stopping)

    runner.run_process(serve)


if __name__ == "__main__":
    main()
