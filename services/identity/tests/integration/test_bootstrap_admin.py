"""``python -m identity bootstrap-admin``: creates the platform account once, then says it
exists; the account can log in; the e-mail and password never reach the output."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from identity.adapters.store import CassandraIdentityStore
from identity.domain.model import AccountKind
from services.identity.tests.integration.conftest import MIGRATIONS
from trackstream_cassandra import CassandraSettings, CassandraStore, connect
from trackstream_cassandra.migrations import apply_migrations


@pytest.fixture
def empty_keyspace() -> Iterator[str]:
    """A keyspace whose platform slot is free (the session's is taken by other tests)."""
    name = f"identity_boot_{uuid.uuid4().hex[:10]}"
    session = connect(CassandraSettings())
    try:
        apply_migrations(session, keyspace=name, folder=MIGRATIONS)
        yield name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}", timeout=180)
        session.cluster.shutdown()


def run_admin(keyspace: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CASSANDRA_KEYSPACE": keyspace,
        "IDENTITY_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "IDENTITY_PASSWORD_MEMORY_KIB": "8192",
        "IDENTITY_PASSWORD_TIME_COST": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "identity", "bootstrap-admin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_bootstrap_admin_creates_the_platform_account_once(
    empty_keyspace: str, tmp_path: Path
) -> None:
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    password = "first login password"
    password_file = tmp_path / "admin-password"
    password_file.write_text(password + "\n")

    first = run_admin(
        empty_keyspace, tmp_path, "--email", email, "--password-file", str(password_file)
    )
    assert first.returncode == 0, first.stderr
    assert "platform account created" in first.stdout
    again = run_admin(
        empty_keyspace, tmp_path, "--email", email, "--password-file", str(password_file)
    )
    assert again.returncode == 0, again.stderr
    assert "exists already" in again.stdout
    account_id = first.stdout.strip().rsplit(" ", 1)[-1]
    assert again.stdout.strip().endswith(account_id)
    for output in (first.stdout, first.stderr, again.stdout, again.stderr):
        assert email not in output.lower() and password not in output
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o777 == 0o600

    cassandra = CassandraStore(connect(CassandraSettings(), keyspace=empty_keyspace))
    try:
        store = CassandraIdentityStore(cassandra)
        account = await store.get_account(account_id)
        assert account is not None and account.kind is AccountKind.PLATFORM
        assert account.parent_account_id == "" and account.email == email
        assert account.password_hash.startswith("$argon2id$")
    finally:
        cassandra.close()

    missing = run_admin(empty_keyspace, tmp_path, "--email", email)
    assert missing.returncode != 0 and "password-file" in missing.stderr
