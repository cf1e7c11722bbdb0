"""Cassandra: one session per process, prepared statements, an asyncio bridge, migrations."""

from trackstream_cassandra.migrations import MigrationError, apply_migrations
from trackstream_cassandra.session import CassandraSettings, CassandraStore, as_date, connect

__all__ = [
    "CassandraSettings",
    "CassandraStore",
    "MigrationError",
    "apply_migrations",
    "as_date",
    "connect",
]
