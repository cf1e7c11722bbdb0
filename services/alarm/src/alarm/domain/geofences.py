"""Geofences: circles and polygons, validated, and indexed for fast point lookups.

Each fence is measured in metres on its own local plane (equirectangular around its first
point: below 0.1 % error for fences up to tens of kilometres). Hysteresis: a device is *inside*
when the point is in the shape and *outside* only once it is further than the edge margin from
it, so a device hovering on the edge does not flip. An STRtree over every fence's outer
envelope (shape + margin, in degrees) finds the candidates of a batch of points among 10,000
fences in one query.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.validation import explain_validity

from alarm.domain.model import InvalidInput

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0
#: the edge margin of fences that do not set one
DEFAULT_EDGE_MARGIN_M = 20.0
MAX_RADIUS_M = 1_000_000.0
MAX_VERTICES = 10_000
#: longitudes between two accounts' copies of the map in the index: more than a map's width
#: plus an envelope's reach (a fence reaching further, a huge circle near a pole, may be found
#: for another account's point: ``place`` drops it); a million accounts stay below 1e9
#: degrees, where a double still resolves 1e-7 degrees (about 1 cm)
_ACCOUNT_STRIDE_DEG = 1000.0
#: the envelopes' padding, well above that rounding
_PAD_DEG = 1e-5


@dataclass(frozen=True, slots=True)
class Circle:
    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Polygon:
    #: (latitude, longitude) pairs; the ring closes itself
    vertices: tuple[tuple[float, float], ...]


Shape = Circle | Polygon


@dataclass(frozen=True, slots=True)
class Geofence:
    geofence_id: str
    account_id: str
    shape: Shape
    name: str = ""
    #: empty: every device of the account
    device_ids: frozenset[str] = frozenset()
    alarm_on_enter: bool = True
    alarm_on_exit: bool = True
    dwell_alarm_s: int = 0
    edge_margin_m: float = 0.0
    confirm_s: int = 0

    def applies_to(self, device_id: str, account_id: str) -> bool:
        if self.device_ids:
            return device_id in self.device_ids
        return account_id == self.account_id

    @property
    def margin_m(self) -> float:
        return self.edge_margin_m if self.edge_margin_m > 0 else DEFAULT_EDGE_MARGIN_M


def _check_coordinates(latitude: float, longitude: float) -> None:
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise InvalidInput("coordinates must be finite numbers")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput(f"coordinates out of range: {latitude:g}, {longitude:g}")


def validate_geofence(fence: Geofence) -> None:
    """Raise :class:`InvalidInput` with a one-line reason when the fence cannot work."""
    if not fence.geofence_id:
        raise InvalidInput("geofence_id is required")
    if not fence.account_id:
        raise InvalidInput("account_id is required")
    if fence.edge_margin_m < 0 or fence.confirm_s < 0 or fence.dwell_alarm_s < 0:
        raise InvalidInput("edge_margin_m, confirm_s and dwell_alarm_s must not be negative")
    if not (fence.alarm_on_enter or fence.alarm_on_exit or fence.dwell_alarm_s):
        raise InvalidInput("the fence raises nothing: set alarm_on_enter, alarm_on_exit or dwell")
    shape = fence.shape
    if isinstance(shape, Circle):
        _check_coordinates(shape.latitude, shape.longitude)
        if not (math.isfinite(shape.radius_m) and 0 < shape.radius_m <= MAX_RADIUS_M):
            raise InvalidInput(f"radius_m must be in (0, {MAX_RADIUS_M:g}]")
        return
    vertices = list(shape.vertices)
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices.pop()
    if len(set(vertices)) < 3:
        raise InvalidInput("a polygon needs at least 3 distinct vertices")
    if len(vertices) > MAX_VERTICES:
        raise InvalidInput(f"a polygon has at most {MAX_VERTICES} vertices")
    for lat, lon in vertices:
        _check_coordinates(lat, lon)
    plane = _Plane.around(vertices[0])
    ring = ShapelyPolygon([plane.xy(lat, lon) for lat, lon in vertices])
    if not ring.is_valid:
        reason = explain_validity(ring)
        if "Self-intersection" in reason or "Ring Self-intersection" in reason:
            raise InvalidInput(f"the polygon intersects itself ({reason})")
        raise InvalidInput(f"invalid polygon: {reason}")
    if ring.area <= 0:
        raise InvalidInput("the polygon has no area")


@dataclass(frozen=True, slots=True)
class _Plane:
    """Local metres around an origin."""

    lat0: float
    lon0: float
    kx: float

    @classmethod
    def around(cls, origin: tuple[float, float]) -> _Plane:
        lat0, lon0 = origin
        return cls(lat0, lon0, M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0)))

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        dlon = (lon - self.lon0 + 540.0) % 360.0 - 180.0
        return dlon * self.kx, (lat - self.lat0) * M_PER_DEG_LAT


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a point is relative to one fence."""

    fence: Geofence
    #: strictly in the shape
    inside: bool
    #: in the shape or within its edge margin (not yet outside)
    within_margin: bool


@dataclass(slots=True)
class _Compiled:
    fence: Geofence
    plane: _Plane
    radius_m: float = 0.0
    shape: shapely.Geometry | None = None
    outer: shapely.Geometry | None = None

    def place(self, lat: float, lon: float) -> Placement:
        x, y = self.plane.xy(lat, lon)
        if self.shape is None:  # circle
            d2 = x * x + y * y
            margin = self.radius_m + self.fence.margin_m
            return Placement(self.fence, d2 <= self.radius_m**2, d2 <= margin * margin)
        assert self.outer is not None
        inside = bool(shapely.contains_xy(self.shape, x, y))
        return Placement(self.fence, inside, inside or bool(shapely.contains_xy(self.outer, x, y)))

    def envelope(self, shift_deg: float = 0.0) -> shapely.Geometry:
        """The outer region's bounding box in degrees (longitude + ``shift_deg``, latitude),
        padded by :data:`_PAD_DEG` (a box only finds candidates: too large is harmless)."""
        if self.shape is None:
            reach_x = reach_y = self.radius_m + self.fence.margin_m
            minx, miny, maxx, maxy = -reach_x, -reach_y, reach_x, reach_y
        else:
            assert self.outer is not None
            minx, miny, maxx, maxy = self.outer.bounds
        kx = max(self.plane.kx, 1e-6)
        return shapely.box(
            self.plane.lon0 + minx / kx + shift_deg - _PAD_DEG,
            self.plane.lat0 + miny / M_PER_DEG_LAT - _PAD_DEG,
            self.plane.lon0 + maxx / kx + shift_deg + _PAD_DEG,
            self.plane.lat0 + maxy / M_PER_DEG_LAT + _PAD_DEG,
        )


def _compile(fence: Geofence) -> _Compiled:
    shape = fence.shape
    if isinstance(shape, Circle):
        return _Compiled(
            fence, _Plane.around((shape.latitude, shape.longitude)), radius_m=shape.radius_m
        )
    plane = _Plane.around(shape.vertices[0])
    polygon = ShapelyPolygon([plane.xy(lat, lon) for lat, lon in shape.vertices])
    outer = polygon.buffer(fence.margin_m)
    shapely.prepare(polygon)
    shapely.prepare(outer)
    return _Compiled(fence, plane, shape=polygon, outer=outer)


class FenceIndex:
    """Every geofence, searchable by point: one STRtree over all of them, queried once for a
    whole batch of points. A device only meets its own account's fences, so each account's
    fences lie on a copy of the map of their own (longitudes shifted by
    :data:`_ACCOUNT_STRIDE_DEG` times the account's number), where its devices' points are
    looked up: the query returns no other account's fence. Immutable: build a new one when
    fences change."""

    def __init__(self, fences: Sequence[Geofence] = ()) -> None:
        self._compiled = [_compile(f) for f in fences]
        self._by_id = {c.fence.geofence_id: c for c in self._compiled}
        #: the accounts, numbered
        self._accounts: dict[str, int] = {}
        shifts = [
            self._accounts.setdefault(c.fence.account_id, len(self._accounts)) * _ACCOUNT_STRIDE_DEG
            for c in self._compiled
        ]
        self._tree = STRtree(
            [c.envelope(shift) for c, shift in zip(self._compiled, shifts, strict=True)]
        )

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, geofence_id: str) -> Geofence | None:
        compiled = self._by_id.get(geofence_id)
        return compiled.fence if compiled else None

    def candidates_many(
        self, account_ids: Sequence[str], lats: Sequence[float], lons: Sequence[float]
    ) -> list[list[int]]:
        """For each point (of the account at the same place in ``account_ids``), that
        account's fences whose outer envelope holds it: one STRtree query for all the points."""
        found: list[list[int]] = [[] for _ in lats]
        accounts = self._accounts
        shifts = [accounts.get(a, -1) * _ACCOUNT_STRIDE_DEG for a in account_ids]
        # points of accounts without fences are not looked up
        chosen = [i for i, shift in enumerate(shifts) if shift >= 0]
        if not chosen:
            return found
        if len(chosen) < len(shifts):
            lats = [lats[i] for i in chosen]
            lons = [lons[i] for i in chosen]
            shifts = [shifts[i] for i in chosen]
        points = shapely.points(
            np.add(np.asarray(lons, dtype=float), np.asarray(shifts, dtype=float)),
            np.asarray(lats, dtype=float),
        )
        point_index, fence_index = self._tree.query(points)
        for p, f in zip(point_index.tolist(), fence_index.tolist(), strict=True):
            found[chosen[p]].append(f)
        return found

    def place(
        self,
        lat: float,
        lon: float,
        *,
        device_id: str,
        account_id: str,
        candidates: Iterable[int] | None = None,
        also: Iterable[str] = (),
    ) -> list[Placement]:
        """Where the point is relative to every fence of the device that it may be in, plus
        the fences named in ``also`` (those the device was inside: it may just have left),
        sorted by fence id. ``candidates``: from :meth:`candidates_many` for this point."""
        if account_id not in self._accounts:
            return []
        if candidates is None:
            candidates = self.candidates_many([account_id], [lat], [lon])[0]
        chosen: dict[str, _Compiled] = {}
        for i in candidates:
            fence = self._compiled[i].fence
            if fence.account_id == account_id and fence.applies_to(device_id, account_id):
                chosen[fence.geofence_id] = self._compiled[i]
        for geofence_id in also:
            known = self._by_id.get(geofence_id)
            if known is not None and known.fence.applies_to(device_id, account_id):
                chosen.setdefault(geofence_id, known)
        if len(chosen) == 1:
            [only] = chosen.values()
            return [only.place(lat, lon)]
        return [chosen[k].place(lat, lon) for k in sorted(chosen)]
