"""The in-memory fake honours the same store contract as the Cassandra adapter."""

from __future__ import annotations

import pytest

from services.identity.tests.unit.conftest import InMemoryIdentityStore
from services.identity.tests.unit.store_contract import StoreContract


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> InMemoryIdentityStore:
        return InMemoryIdentityStore()
