"""``trackstream-notification``: alarms to in-app, e-mail, webhooks and push, exactly once."""

from __future__ import annotations

import asyncio

from notification.bootstrap import bootstrap
from notification.config import NotificationSettings
from trackstream_servicekit import ServiceRunner


def main() -> None:
    settings = NotificationSettings()
    runner = ServiceRunner("notification", settings)

    async def serve(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)

        async def ready() -> bool:
            return app.ready.is_set()

        runner.add_readiness_check("consuming and serving", ready)
        await app.run(stopping)

    runner.run_process(serve)


if __name__ == "__main__":
    main()
