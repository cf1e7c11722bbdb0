"""Known coordinates resolve to the right place and country: capitals on every continent,
coastal and border towns, both hemispheres, and both sides of the antimeridian."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import reverse_geocoder

from geocoding.domain.offline import OfflineIndex
from geocoding.resolver import Resolver

#: (what, latitude, longitude, acceptable place names, country code)
KNOWN = [
    # capitals
    ("London", 51.5074, -0.1278, {"London"}, "GB"),
    ("Paris", 48.8566, 2.3522, {"Paris"}, "FR"),
    ("Berlin", 52.5200, 13.4050, {"Berlin", "Mitte"}, "DE"),
    ("Madrid", 40.4168, -3.7038, {"Madrid"}, "ES"),
    ("Rome", 41.9028, 12.4964, {"Rome"}, "IT"),
    ("Ankara", 39.9334, 32.8597, {"Ankara"}, "TR"),
    ("Moscow", 55.7558, 37.6173, {"Moscow"}, "RU"),
    ("Cairo", 30.0444, 31.2357, {"Cairo"}, "EG"),
    ("Nairobi", -1.2921, 36.8219, {"Nairobi"}, "KE"),
    ("Pretoria", -25.7479, 28.2293, {"Pretoria"}, "ZA"),
    ("Buenos Aires", -34.6037, -58.3816, {"Buenos Aires"}, "AR"),
    ("Santiago", -33.4489, -70.6693, {"Santiago"}, "CL"),
    ("Lima", -12.0464, -77.0428, {"Lima"}, "PE"),
    ("Brasilia", -15.7939, -47.8828, {"Brasilia"}, "BR"),
    ("Mexico City", 19.4326, -99.1332, {"Mexico City"}, "MX"),
    ("Washington", 38.9072, -77.0369, {"Washington, D.C."}, "US"),
    ("Ottawa", 45.4215, -75.6972, {"Ottawa"}, "CA"),
    ("Tokyo", 35.6762, 139.6503, {"Tokyo"}, "JP"),
    ("Beijing", 39.9042, 116.4074, {"Beijing"}, "CN"),
    ("New Delhi", 28.6139, 77.2090, {"New Delhi"}, "IN"),
    ("Canberra", -35.2809, 149.1300, {"Canberra"}, "AU"),
    ("Wellington", -41.2865, 174.7762, {"Wellington"}, "NZ"),
    ("Reykjavik", 64.1466, -21.9426, {"Reykjavik"}, "IS"),
    ("Jakarta", -6.2088, 106.8456, {"Jakarta"}, "ID"),
    # coastal
    ("Cape Town", -33.9249, 18.4241, {"Cape Town"}, "ZA"),
    ("Valparaiso", -33.0472, -71.6127, {"Valparaiso"}, "CL"),
    ("Hobart", -42.8821, 147.3272, {"Hobart"}, "AU"),
    ("Ushuaia", -54.8019, -68.3030, {"Ushuaia"}, "AR"),
    ("Tromso", 69.6492, 18.9553, {"Tromso"}, "NO"),
    ("Honolulu", 21.3069, -157.8583, {"Honolulu"}, "US"),
    ("Longyearbyen", 78.2232, 15.6267, {"Longyearbyen"}, "SJ"),
    # borders: each side of the line resolves to its own country
    ("Strasbourg (Rhine, French bank)", 48.5734, 7.7521, {"Strasbourg"}, "FR"),
    ("Kehl (Rhine, German bank)", 48.5722, 7.8153, {"Kehl"}, "DE"),
    ("Tijuana", 32.5149, -117.0382, {"Tijuana"}, "MX"),
    ("San Ysidro, north of the fence", 32.5556, -117.0470, {"Imperial Beach", "San Ysidro"}, "US"),
    ("Ciudad Juarez", 31.6904, -106.4245, {"Ciudad Juarez"}, "MX"),
    ("El Paso", 31.7619, -106.4850, {"El Paso"}, "US"),
    ("Narva", 59.3797, 28.1791, {"Narva"}, "EE"),
    ("Ivangorod", 59.3766, 28.2236, {"Ivangorod"}, "RU"),
    ("Basel", 47.5596, 7.5886, {"Basel"}, "CH"),
    # the antimeridian and the far Pacific
    ("Taveuni, west of 180", -16.80, -179.99, {"Lambasa"}, "FJ"),
    ("Taveuni, east of 180", -16.80, 179.99, {"Lambasa"}, "FJ"),
    ("Chukotka, west of 180", 65.0, -179.9, {"Anadyr", "Egvekinot"}, "RU"),
    ("Anadyr", 64.7337, 177.4968, {"Anadyr"}, "RU"),
    ("Suva", -18.1248, 178.4501, {"Suva"}, "FJ"),
    ("Nuku'alofa", -21.1394, -175.2044, {"Nuku'alofa"}, "TO"),
    ("Apia", -13.8333, -171.7667, {"Apia"}, "WS"),
    ("Tarawa", 1.3290, 172.9790, {"Tarawa"}, "KI"),
    ("McMurdo", -77.846, 166.676, {"McMurdo Station"}, "AQ"),
]


@pytest.mark.parametrize(("what", "lat", "lon", "names", "cc"), KNOWN, ids=[k[0] for k in KNOWN])
async def test_known_coordinates_resolve_to_their_place(
    index: OfflineIndex, what: str, lat: float, lon: float, names: set[str], cc: str
) -> None:
    resolver = Resolver(index, h3_resolution=9, cache_size=10)
    place = await resolver.reverse(lat, lon)
    assert place.name in names, f"{what}: {place}"
    assert place.country_code == cc, f"{what}: {place}"
    assert place.country, what
    assert place.address_line.startswith(place.name)


async def test_the_table_is_the_same_through_the_batched_path(index: OfflineIndex) -> None:
    """The stream's path (one vectorised query for all cells) gives the same answers."""
    resolver = Resolver(index, h3_resolution=9, cache_size=1000)
    points = {resolver.cell(lat, lon): (lat, lon) for _, lat, lon, _, _ in KNOWN}
    places = await resolver.resolve(points)
    for what, lat, lon, names, cc in KNOWN:
        place = places[resolver.cell(lat, lon)]
        assert place.name in names and place.country_code == cc, what


def test_the_sphere_index_fixes_reverse_geocoders_antimeridian_error(index: OfflineIndex) -> None:
    """reverse_geocoder's own tree works in degrees: at 179.99 W it finds a town 290 km away in
    Wallis and Futuna instead of Fiji's 80 km; the index on the sphere finds Fiji."""
    raw = reverse_geocoder.RGeocoder(mode=1, verbose=False).query([(-16.80, -179.99)])[0]
    assert raw["cc"] == "WF"
    assert index.place(-16.80, -179.99).country_code == "FJ"


def test_country_names_come_from_iso_3166(index: OfflineIndex) -> None:
    assert index.place(51.5074, -0.1278).country == "United Kingdom"
    assert index.place(42.6629, 21.1655).country_code == "XK"
    assert index.place(42.6629, 21.1655).country == "Kosovo"


def test_the_dataset_loads_without_network() -> None:
    """In a fresh process with every socket connect refused, the whole dataset loads."""
    code = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network is off in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from geocoding.adapters.geonames import load_index
        index, seconds = load_index()
        print(len(index), index.place(48.8566, 2.3522).name)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    count, name = done.stdout.split(maxsplit=1)
    assert int(count) > 100_000
    assert name.strip() == "Paris"
