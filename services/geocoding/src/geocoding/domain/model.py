"""Places, as the domain sees them."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

#: mean Earth radius (IUGG), metres
EARTH_RADIUS_M = 6_371_008.8


class Source(StrEnum):
    OFFLINE = "offline"
    NOMINATIM = "nominatim"
    PHOTON = "photon"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a point is: the nearest town (offline) or a provider's address.

    ``latitude``/``longitude`` are the place's own coordinates; ``distance_m`` is measured from
    the point that was asked about."""

    name: str
    region: str
    subregion: str
    country: str
    country_code: str
    latitude: float
    longitude: float
    distance_m: float
    address_line: str
    source: Source
    street: str = ""
    postcode: str = ""

    def seen_from(self, latitude: float, longitude: float) -> Place:
        """The same place, its distance measured from another point."""
        return replace(
            self, distance_m=distance_m(latitude, longitude, self.latitude, self.longitude)
        )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def possible(latitude: float, longitude: float) -> bool:
    """Whether a point can be geocoded: finite, latitude in [-90, 90], longitude in
    [-180, 180], and not exactly (0, 0), which devices send before their first fix. (History
    flags such points "coordinates"; its full plausibility rule stays in history.)"""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return False
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return False
    return not (latitude == 0.0 and longitude == 0.0)


def address_line(*parts: str) -> str:
    """Non-empty parts joined by ", ", a part equal to the one before it left out
    ("Singapore, Singapore" is just "Singapore")."""
    kept: list[str] = []
    for part in parts:
        part = part.strip()
        if part and (not kept or kept[-1].casefold() != part.casefold()):
            kept.append(part)
    return ", ".join(kept)
