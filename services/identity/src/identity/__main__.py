"""``python -m identity``: serve the IdentityService.

``python -m identity bootstrap-admin --email E --password-file F`` creates the single platform
account if there is none (exits 0 either way, saying which), for ``make up``'s first login.
``IDENTITY_ADMIN_EMAIL`` and ``IDENTITY_ADMIN_PASSWORD_FILE`` stand in for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from identity.bootstrap import bootstrap, build_identity, connect_store, password_hashing
from identity.config import IdentitySettings
from identity.domain.errors import IdentityError
from trackstream_auth import SigningKey
from trackstream_kafka import EventPublisher
from trackstream_obs.logging import configure_logging
from trackstream_servicekit import ServiceRunner


def serve(settings: IdentitySettings) -> None:
    runner = ServiceRunner("identity", settings)

    async def body(stopping: asyncio.Event) -> None:
        app = bootstrap(settings)

        async def ready() -> bool:
            return app.ready.is_set()

        runner.add_readiness_check("serving", ready)
        await app.run(stopping)

    runner.run_process(body)


async def bootstrap_admin(settings: IdentitySettings, email: str, password: str) -> int:
    cassandra, store = connect_store(settings)
    publisher = EventPublisher.create(settings.kafka, source="/identity")
    await publisher.start()
    try:
        identity = build_identity(
            settings,
            store=store,
            publisher=publisher,
            passwords=password_hashing(settings),
            signing_key=SigningKey.load_or_create(settings.signing_key_file),
        )
        account, created = await identity.bootstrap_platform(
            email=email, password=password, display_name=settings.admin_display_name
        )
    except IdentityError as error:
        print(f"bootstrap-admin: {error}", file=sys.stderr)
        return 1
    finally:
        await publisher.stop()
        cassandra.close()
    verb = "created" if created else "exists already"
    print(f"platform account {verb}: {account.account_id}")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="identity", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    admin = commands.add_parser("bootstrap-admin", help="create the platform account once")
    admin.add_argument("--email", help="its e-mail (default: $IDENTITY_ADMIN_EMAIL)")
    admin.add_argument(
        "--password-file",
        type=Path,
        help="file holding its password (default: "
        "$IDENTITY_ADMIN_PASSWORD_FILE); never pass a password on the command line",
    )
    args = parser.parse_args(argv)
    settings = IdentitySettings()
    if args.command is None:
        serve(settings)
        return
    configure_logging("identity", settings.log_level)
    email = args.email or settings.admin_email
    password_file = args.password_file or settings.admin_password_file
    if not email or password_file is None:
        parser.error(
            "bootstrap-admin needs --email and --password-file (or the IDENTITY_ADMIN_* variables)"
        )
    try:
        password = password_file.read_text().strip("\r\n")
    except OSError as error:
        parser.error(f"cannot read the password file: {error.strerror}")
    sys.exit(asyncio.run(bootstrap_admin(settings, email, password)))


if __name__ == "__main__":
    main()
