from __future__ import annotations

from pathlib import Path

import pytest

from trackstream_cassandra.migrations import MigrationError, load_migrations

ROOT = Path(__file__).resolve().parents[2]


def test_statements_split_on_line_ending_semicolons_and_drop_comments(tmp_path: Path) -> None:
    (tmp_path / "0001_first.cql").write_text(
        "-- a comment; with a semicolon\n"
        "CREATE TABLE a (id int PRIMARY KEY, note text); -- trailing\n"
        "CREATE TABLE b (\n  id int PRIMARY KEY\n) WITH comment = 'x';\n"
    )
    [migration] = load_migrations(tmp_path)
    assert migration.version == 1 and migration.name == "first"
    assert migration.statements == (
        "CREATE TABLE a (id int PRIMARY KEY, note text)",
        "CREATE TABLE b (\n  id int PRIMARY KEY\n) WITH comment = 'x'",
    )


def test_badly_named_or_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_first.cql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description"):
        load_migrations(tmp_path)
    (tmp_path / "1_first.cql").unlink()
    (tmp_path / "0001_a.cql").write_text("SELECT 1;")
    (tmp_path / "0001_b.cql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)


def test_the_platform_migrations_load() -> None:
    migrations = load_migrations(ROOT / "deploy" / "cassandra" / "migrations")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.statements for m in migrations)
