"""An object enters the catalogue only when its stored bytes are what was announced."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredFacts:
    """What the object store holds under a key (None: nothing there)."""

    size_bytes: int
    sha256: str


def mismatch(*, expected_size: int, expected_sha256: str, stored: StoredFacts | None) -> str | None:
    """Why the stored object must not be catalogued, or None when it matches."""
    if stored is None:
        return "object missing from the store"
    if stored.size_bytes != expected_size:
        return f"stored size {stored.size_bytes} != announced {expected_size}"
    if stored.sha256.lower() != expected_sha256.lower():
        return "stored checksum differs from the announced one"
    return None
