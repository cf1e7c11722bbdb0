from __future__ import annotations

import random

import pytest

from alarm.domain.geofences import (
    Circle,
    FenceIndex,
    Geofence,
    Polygon,
    validate_geofence,
)
from alarm.domain.model import InvalidInput
from services.alarm.tests.unit.conftest import LAT_M

SQUARE = Polygon(((41.0, 29.0), (41.0, 29.01), (41.01, 29.01), (41.01, 29.0)))


def fence(shape: Circle | Polygon, **kw: object) -> Geofence:
    values: dict[str, object] = {"geofence_id": "f1", "account_id": "acc-1", "shape": shape}
    values.update(kw)
    return Geofence(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        (Circle(41.0, 29.0, 0.0), "radius_m must be in (0"),
        (Circle(41.0, 29.0, -5.0), "radius_m must be in (0"),
        (Circle(91.0, 29.0, 10.0), "coordinates out of range"),
        (Circle(41.0, float("nan"), 10.0), "finite"),
        (
            Polygon(((41.0, 29.0), (41.01, 29.01), (41.0, 29.01), (41.01, 29.0))),
            "the polygon intersects itself",
        ),
        (Polygon(((41.0, 29.0), (41.01, 29.01))), "at least 3 distinct vertices"),
        (Polygon(((41.0, 29.0), (41.0, 29.0), (41.0, 29.0), (41.0, 29.0))), "at least 3"),
        (Polygon(((41.0, 29.0), (41.0, 29.01), (41.0, 29.02))), "intersects itself"),
    ],
)
def test_bad_shapes_are_refused_with_a_one_line_reason(
    shape: Circle | Polygon, reason: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_geofence(fence(shape))
    assert reason in str(err.value)
    assert "\n" not in str(err.value)


def test_a_fence_that_raises_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="raises nothing"):
        validate_geofence(fence(SQUARE, alarm_on_enter=False, alarm_on_exit=False))


def test_good_shapes_pass() -> None:
    validate_geofence(fence(SQUARE))
    validate_geofence(fence(Circle(41.0, 29.0, 100.0)))
    closed = Polygon((*SQUARE.vertices, SQUARE.vertices[0]))
    validate_geofence(fence(closed))


def test_circle_placement_with_edge_margin() -> None:
    index = FenceIndex([fence(Circle(41.0, 29.0, 100.0), edge_margin_m=20.0)])

    def place(metres_north: float) -> tuple[bool, bool]:
        found = index.place(41.0 + metres_north * LAT_M, 29.0, device_id="d", account_id="acc-1")
        return (found[0].inside, found[0].within_margin) if found else (False, False)

    assert place(0) == (True, True)
    assert place(99) == (True, True)
    assert place(110) == (False, True)
    assert place(125) == (False, False)
    assert index.place(41.1, 29.0, device_id="d", account_id="acc-1") == []


def test_polygon_placement_and_binding() -> None:
    bound = fence(SQUARE, geofence_id="f2", device_ids=frozenset({"dev-a"}))
    index = FenceIndex([fence(SQUARE), bound])
    inside = index.place(41.005, 29.005, device_id="dev-a", account_id="acc-1")
    assert [(p.fence.geofence_id, p.inside) for p in inside] == [("f1", True), ("f2", True)]
    other_device = index.place(41.005, 29.005, device_id="dev-b", account_id="acc-1")
    assert [p.fence.geofence_id for p in other_device] == ["f1"]
    other_account = index.place(41.005, 29.005, device_id="dev-c", account_id="acc-2")
    assert other_account == []
    # just south of the square: outside the shape, within the default 20 m margin
    [edge, _] = index.place(41.0 - 10 * LAT_M, 29.005, device_id="dev-a", account_id="acc-1")
    assert (edge.inside, edge.within_margin) == (False, True)
    # a fence the device was inside, now far away: still reported (so it can be left)
    far = index.place(42.0, 29.0, device_id="dev-a", account_id="acc-1", also=["f2"])
    assert [(p.fence.geofence_id, p.inside, p.within_margin) for p in far] == [("f2", False, False)]


def test_index_agrees_with_brute_force_on_many_fences() -> None:
    rng = random.Random(7)
    fences = [
        fence(
            Circle(rng.uniform(40, 41), rng.uniform(28, 29), rng.uniform(50, 2000)),
            geofence_id=f"c{i}",
        )
        for i in range(400)
    ]
    index = FenceIndex(fences)
    brute = FenceIndex([])
    points = [(rng.uniform(40, 41), rng.uniform(28, 29)) for _ in range(300)]
    candidates = index.candidates_many(
        ["acc-1"] * len(points), [p[0] for p in points], [p[1] for p in points]
    )
    hits = 0
    singles = [FenceIndex([f]) for f in fences]
    for (lat, lon), cand in zip(points, candidates, strict=True):
        got = {
            p.fence.geofence_id
            for p in index.place(lat, lon, device_id="d", account_id="acc-1", candidates=cand)
            if p.inside
        }
        want = {
            p.fence.geofence_id
            for single in singles
            for p in single.place(lat, lon, device_id="d", account_id="acc-1")
            if p.inside
        }
        assert got == want
        hits += len(got)
    assert hits > 0
    assert len(brute) == 0


def test_one_query_for_points_of_many_accounts_keeps_the_accounts_apart() -> None:
    """The same square for two accounts, and a third account with a fence elsewhere: one query
    for points of all three finds, for each point, only its own account's fence."""
    index = FenceIndex(
        [
            fence(SQUARE, geofence_id="a1", account_id="acc-1"),
            fence(SQUARE, geofence_id="a2", account_id="acc-2"),
            fence(Circle(42.0, 29.0, 100.0), geofence_id="a3", account_id="acc-3"),
        ]
    )
    accounts = ["acc-1", "acc-2", "acc-3", "acc-unknown", "acc-1"]
    lats = [41.005, 41.005, 41.005, 41.005, 42.0]
    lons = [29.005, 29.005, 29.005, 29.005, 29.0]
    found = index.candidates_many(accounts, lats, lons)
    names = [
        [
            p.fence.geofence_id
            for p in index.place(lat, lon, device_id="d", account_id=account, candidates=near)
        ]
        for account, lat, lon, near in zip(accounts, lats, lons, found, strict=True)
    ]
    assert names == [["a1"], ["a2"], [], [], []]
