"""The Cassandra adapter honours the same store contract as the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity.adapters.store import CassandraIdentityStore
from services.identity.tests.unit.store_contract import StoreContract
from trackstream_cassandra import CassandraSettings, CassandraStore, connect


class TestCassandraStore(StoreContract):
    @pytest.fixture
    def store(self, keyspace: str) -> Iterator[CassandraIdentityStore]:
        cassandra = CassandraStore(connect(CassandraSettings(), keyspace=keyspace))
        try:
            yield CassandraIdentityStore(cassandra)
        finally:
            cassandra.close()
