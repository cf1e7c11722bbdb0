"""A secondary index over a compacted topic's view: find a record's key by one of its fields.

Used with :class:`trackstream_kafka.table.CompactedTable` (``on_change=index.apply``), e.g. to
resolve a device by its identifier HMAC in ``identity.device-registry.v1`` (ingest's logins,
media's HTTP uploads)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
K = TypeVar("K", bound=Hashable)


class SecondaryIndex(Generic[V, K]):
    """``index_of(value)`` -> the record's key; a tombstone or a changed field drops the old
    entry, so a lookup never finds a record that no longer carries that field value."""

    def __init__(self, index_of: Callable[[V], K]) -> None:
        self._index_of = index_of
        self._key_by: dict[K, str] = {}
        self._indexed: dict[str, K] = {}

    def apply(self, key: str, value: V | None) -> None:
        old = self._indexed.pop(key, None)
        if old is not None and self._key_by.get(old) == key:
            del self._key_by[old]
        if value is not None:
            new = self._index_of(value)
            self._key_by[new] = key
            self._indexed[key] = new

    def lookup(self, indexed: K) -> str | None:
        return self._key_by.get(indexed)

    def __len__(self) -> int:
        return len(self._key_by)
