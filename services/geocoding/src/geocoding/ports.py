"""What the service layer needs from the outside, as protocols (adapters implement them)."""

from __future__ import annotations

from typing import Protocol

from geocoding.domain.model import Place, Source


class ProviderError(Exception):
    """The provider answered with an error status or a body we cannot read."""


class Provider(Protocol):
    """An external geocoder (adapters: Nominatim, Photon). Raises on failure; "no result" is
    ``None`` or ``[]``."""

    @property
    def source(self) -> Source: ...

    async def reverse(self, latitude: float, longitude: float) -> Place | None: ...

    async def search(self, query: str, *, limit: int, country_code: str) -> list[Place]: ...
