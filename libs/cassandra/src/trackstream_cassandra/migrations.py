"""Versioned, idempotent CQL migrations.

A migration folder holds ``NNNN_description.cql`` files, applied in version order. Statements are
separated by ``;`` at the end of a line; ``--`` starts a comment. Each applied version is recorded
in ``<keyspace>.schema_migrations`` with a checksum; running again applies only what is new, and
an applied file that was edited afterwards is refused (add a new migration instead). Statements
should themselves be idempotent (``IF NOT EXISTS``) so a run interrupted half-way can be repeated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cassandra.cluster import Session

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")


class MigrationError(Exception):
    """A migration folder or history that cannot be applied safely."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str


def load_migrations(folder: Path) -> list[Migration]:
    migrations = []
    for path in sorted(folder.glob("*.cql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_description.cql")
        text = path.read_text()
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                statements=tuple(_statements(text)),
                checksum=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return migrations


def _statements(text: str) -> list[str]:
    lines = [line.split("--", 1)[0].rstrip() for line in text.splitlines()]
    body = "\n".join(line for line in lines if line.strip())
    return [s.strip() for s in re.split(r";\s*$", body, flags=re.MULTILINE) if s.strip()]


def apply_migrations(
    session: Session, *, keyspace: str, folder: Path, replication_factor: int = 1
) -> list[int]:
    """Create the keyspace if needed and apply every new migration; returns applied versions."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", keyspace):
        raise MigrationError(f"invalid keyspace name {keyspace!r}")
    migrations = load_migrations(folder)
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations ("
        "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
    )
    applied = {
        row.version: row
        for row in session.execute(
            f"SELECT version, name, checksum FROM {keyspace}.schema_migrations"
        )
    }
    newly_applied = []
    for migration in migrations:
        done = applied.get(migration.version)
        if done is not None:
            if done.checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} was edited after it was "
                    f"applied to {keyspace}; add a new migration instead"
                )
            continue
        session.set_keyspace(keyspace)
        for statement in migration.statements:
            session.execute(statement)
        session.execute(
            f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) "
            "VALUES (%s, %s, %s, toTimestamp(now()))",
            (migration.version, migration.name, migration.checksum),
        )
        newly_applied.append(migration.version)
    return newly_applied
