"""``trackstream-privacy``: ledger erasures, order them, certify them; answer over gRPC."""

from __future__ import annotations

import asyncio

from privacy.bootstrap import PrivacyApp, bootstrap
from privacy.config import PrivacySettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = PrivacySettings()
    runner = ServiceRunner("privacy", settings)
    started: list[PrivacyApp] = []

    async def ready() -> bool:
        return bool(started) and started[0].ready.is_set()

    runner.add_readiness_check("consuming and serving", ready)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)
        started.append(app)
        await app.run(stopping)

    runner.run_process(serve)


if __name__ == "__main__":
    main()
