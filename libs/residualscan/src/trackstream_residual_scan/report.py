"""Hits and the report: JSON, and a stable SHA-256 of the hit list that a certificate cites.

The digest covers the hits only (store, location, field, identifier reference, encoding,
occurrences), canonically serialised and sorted: two scans that find the same residue give the
same digest whatever order they read the stores in; times and throughput figures are outside it.
An empty hit list has a digest too (that of ``[]``), the one an erasure certificate expects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from trackstream_residual_scan.patterns import Pattern

#: a location value: topic, partition, offset, table, primary key values, bucket, version id ...
LocationValue = str | int | bool | None
Location = tuple[tuple[str, LocationValue], ...]


@dataclass(frozen=True, slots=True)
class Hit:
    store: str
    location: Location
    #: where in the record: key, value, header:<name>; a column name; key, metadata:<name>, content
    field: str
    identifier: str
    kind: str
    encoding: str
    occurrences: int

    def as_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "location": dict(self.location),
            "field": self.field,
            "identifier": self.identifier,
            "kind": self.kind,
            "encoding": self.encoding,
            "occurrences": self.occurrences,
        }


@dataclass(slots=True)
class HitCollector:
    """Counts matches per (location, field, identifier, encoding): one hit each."""

    store: str
    _counts: dict[tuple[Location, str, str, str, str], int] = dataclass_field(default_factory=dict)

    def add(self, location: Location, field: str, pattern: Pattern) -> None:
        key = (location, field, pattern.ref, pattern.kind.value, pattern.encoding)
        self._counts[key] = self._counts.get(key, 0) + 1

    def merge(self, other: HitCollector) -> None:
        for key, n in other._counts.items():
            self._counts[key] = self._counts.get(key, 0) + n

    def __len__(self) -> int:
        return len(self._counts)

    def hits(self) -> list[Hit]:
        return [
            Hit(self.store, location, fld, ref, kind, encoding, n)
            for (location, fld, ref, kind, encoding), n in self._counts.items()
        ]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sorted_hits(hits: Iterable[Hit]) -> list[dict[str, Any]]:
    return sorted((h.as_json() for h in hits), key=canonical)


def hits_sha256(hits: Iterable[Hit]) -> str:
    """The digest of the canonical, sorted hit list."""
    return hashlib.sha256(canonical(sorted_hits(hits)).encode()).hexdigest()
