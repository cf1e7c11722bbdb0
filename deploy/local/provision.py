"""Provision the running stack from the declared catalog: Kafka topics, Cassandra schema, buckets.

    python deploy/local/provision.py [--timeout-s 120]

Idempotent: a second run creates nothing and applies no migration twice. Each store is first
asked a real question (Kafka metadata, a CQL query, an S3 listing), so "ready" means serving.
Connection settings come from the same ``KAFKA_*``, ``CASSANDRA_*`` and ``S3_*`` variables the
services read, so it provisions external servers as well as the local stack: the Helm chart runs
this module as its pre-install/pre-upgrade job, and deploy/compose.yaml as its provision service.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from trackstream_cassandra import CassandraSettings, MigrationError, apply_migrations, connect
from trackstream_events.catalog import BUCKETS, all_topics
from trackstream_kafka.admin import ensure_topics
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3CredentialsError, S3Settings, ensure_buckets, make_client

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "deploy" / "cassandra" / "migrations"
T = TypeVar("T")


class ProvisionError(Exception):
    pass


def _retry(what: str, attempt: Callable[[], T], timeout_s: float, hint: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return attempt()
        except (S3CredentialsError, MigrationError):
            raise
        except Exception as err:
            if time.monotonic() > deadline:
                raise ProvisionError(f"{what} is not answering ({err!r}); {hint}") from None
            time.sleep(1)


def provision(timeout_s: float = 120.0) -> None:
    # while a store is still starting, its client logs every refused connection; the retry
    # loop below reports the outcome in one line instead
    for noisy in ("aiokafka", "cassandra"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    kafka, cassandra, s3 = KafkaSettings(), CassandraSettings(), S3Settings()
    log_hint = (
        "check the KAFKA_*, CASSANDRA_* and S3_* settings; locally, see `make status` "
        "and the log it names under .run/"
    )

    created = _retry(
        f"Kafka at {kafka.bootstrap_servers}",
        lambda: asyncio.run(ensure_topics(kafka, all_topics())),
        timeout_s,
        log_hint,
    )
    print(f"kafka: {len(all_topics())} topics declared, {len(created)} created")

    session = _retry(
        f"Cassandra at {cassandra.hosts}:{cassandra.port}",
        lambda: connect(cassandra),
        timeout_s,
        log_hint,
    )
    try:
        applied = _retry(
            "Cassandra schema",
            lambda: apply_migrations(
                session,
                keyspace=cassandra.keyspace,
                folder=MIGRATIONS,
                replication_factor=cassandra.replication_factor,
            ),
            timeout_s,
            log_hint,
        )
    finally:
        session.cluster.shutdown()
    print(f"cassandra: keyspace {cassandra.keyspace}, migrations applied now: {applied or 'none'}")

    client = make_client(s3)
    made = _retry(
        f"S3 store at {s3.endpoint}",
        lambda: ensure_buckets(client, s3, BUCKETS),
        timeout_s,
        log_hint,
    )
    print(f"s3: {len(BUCKETS)} buckets declared, {len(made)} created")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=120.0,
        help="how long each store may take to answer before provisioning fails (default 120)",
    )
    args = parser.parse_args(argv)
    try:
        provision(timeout_s=args.timeout_s)
    except (ProvisionError, S3CredentialsError, MigrationError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
