"""Rows through the real Cassandra node, and the migration runner's guarantees."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from trackstream_cassandra import CassandraStore, MigrationError, apply_migrations
from trackstream_cassandra.migrations import load_migrations

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "deploy" / "cassandra" / "migrations"


@pytest.fixture
def keyspace(cassandra_store: CassandraStore) -> object:
    name = f"test_{uuid.uuid4().hex[:10]}"
    yield name
    # dropping a keyspace of some 50 tables takes a while on a busy node
    cassandra_store.session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=120)


async def test_migrations_are_idempotent_and_position_rows_round_trip(
    cassandra_store: CassandraStore, keyspace: str
) -> None:
    session = cassandra_store.session
    every_version = [m.version for m in load_migrations(MIGRATIONS)]
    assert apply_migrations(session, keyspace=keyspace, folder=MIGRATIONS) == every_version
    assert apply_migrations(session, keyspace=keyspace, folder=MIGRATIONS) == []

    insert = (
        f"INSERT INTO {keyspace}.positions_by_device_day (device_id, day, fix_time, "
        "message_serial, latitude, longitude, speed_kmh, valid, attributes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    day = date(2026, 11, 28)
    fix_time = datetime(2026, 11, 28, 8, 30, 15, 250000, tzinfo=UTC)
    row = ("dev-42", day, fix_time, 7, 41.0082, 28.9784, 55.5, True, {"fuel": "31.5"})
    await cassandra_store.execute(insert, row)
    await cassandra_store.execute(insert, row)  # a retransmission overwrites, never duplicates
    second: tuple[object, ...] = (
        *row[:2],
        fix_time.replace(second=25),
        8,
        41.01,
        28.98,
        60.0,
        True,
        {},
    )
    await cassandra_store.execute(insert, second)

    rows = await cassandra_store.execute(
        f"SELECT fix_time, message_serial, latitude, longitude, speed_kmh, valid, attributes "
        f"FROM {keyspace}.positions_by_device_day WHERE device_id = ? AND day = ?",
        ("dev-42", day),
    )
    assert [(r.message_serial, r.latitude, r.longitude) for r in rows] == [
        (7, 41.0082, 28.9784),
        (8, 41.01, 28.98),
    ]
    assert rows[0].fix_time.replace(tzinfo=UTC) == fix_time.replace(microsecond=250000)
    assert rows[0].attributes == {"fuel": "31.5"}
    assert rows[1].attributes is None  # an empty map is stored as no cells


async def test_an_applied_migration_that_was_edited_is_refused(
    cassandra_store: CassandraStore, keyspace: str, tmp_path: Path
) -> None:
    migration = tmp_path / "0001_things.cql"
    migration.write_text("CREATE TABLE IF NOT EXISTS things (id int PRIMARY KEY);\n")
    session = cassandra_store.session
    assert apply_migrations(session, keyspace=keyspace, folder=tmp_path) == [1]
    migration.write_text("CREATE TABLE IF NOT EXISTS things (id int PRIMARY KEY, x int);\n")
    with pytest.raises(MigrationError, match="edited after it was applied"):
        apply_migrations(session, keyspace=keyspace, folder=tmp_path)
    (tmp_path / "0002_more.cql").write_text(
        "-- a second table\nCREATE TABLE IF NOT EXISTS more_things (id int PRIMARY KEY);\n"
        "CREATE TABLE IF NOT EXISTS even_more (id int PRIMARY KEY);\n"
    )
    migration.write_text("CREATE TABLE IF NOT EXISTS things (id int PRIMARY KEY);\n")
    assert apply_migrations(session, keyspace=keyspace, folder=tmp_path) == [2]
    tables = {
        r.table_name
        for r in session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
        )
    }
    assert {"things", "more_things", "even_more", "schema_migrations"} <= tables


async def test_a_logged_batch_writes_all_its_rows_or_none(
    cassandra_store: CassandraStore, keyspace: str
) -> None:
    session = cassandra_store.session
    session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    for table in ("a", "b"):
        session.execute(f"CREATE TABLE {keyspace}.{table} (id text PRIMARY KEY, n int)")
    write_a = f"INSERT INTO {keyspace}.a (id, n) VALUES (?, ?)"
    write_b = f"INSERT INTO {keyspace}.b (id, n) VALUES (?, ?)"
    await cassandra_store.execute_atomically([(write_a, ("x", 1)), (write_b, ("x", 2))])
    # the second statement's value does not fit its column: the batch is refused whole
    with pytest.raises(Exception):  # noqa: B017 - the driver's type error, whichever it is
        await cassandra_store.execute_atomically([(write_a, ("y", 1)), (write_b, ("y", "two"))])

    async def ids(table: str) -> set[str]:
        return {r.id for r in await cassandra_store.execute(f"SELECT id FROM {keyspace}.{table}")}

    assert await ids("a") == {"x"} and await ids("b") == {"x"}
