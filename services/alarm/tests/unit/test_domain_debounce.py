from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alarm.domain.debounce import (
    FenceEdge,
    Raised,
    ThresholdState,
    dwell_due,
    fence_step,
    threshold_step,
)
from services.alarm.tests.unit.conftest import at


def run(values: Sequence[tuple[float, float]], **kw: object) -> list[Raised | None]:
    state = ThresholdState()
    out = []
    for seconds, value in values:
        state, raised = threshold_step(state, value, at(seconds), **kw)  # type: ignore[arg-type]
        out.append(raised)
    return out


def test_a_value_hovering_at_the_limit_raises_once() -> None:
    speeds = [(0, 90), (10, 101), (20, 99), (30, 102), (40, 98), (50, 101), (60, 97)]
    raised = run(speeds, limit=100, hysteresis=5, min_duration=timedelta(0))
    assert [r.window_start if r else None for r in raised] == [None, at(10), *[None] * 5]


def test_it_raises_again_only_after_clearing_below_the_band() -> None:
    speeds = [(0, 110), (10, 96), (20, 94), (30, 110)]
    raised = run(speeds, limit=100, hysteresis=5, min_duration=timedelta(0))
    assert [r.window_start if r else None for r in raised] == [at(0), None, None, at(30)]


def test_minimum_duration_counts_from_the_first_sample_beyond_the_limit() -> None:
    speeds = [(0, 120), (10, 120), (20, 120), (31, 120), (40, 120)]
    raised = run(speeds, limit=100, hysteresis=5, min_duration=timedelta(seconds=30))
    assert [r.window_start if r else None for r in raised] == [None, None, None, at(0), None]


def test_a_short_excursion_below_the_limit_restarts_the_minimum_duration() -> None:
    speeds = [(0, 120), (20, 99), (25, 120), (50, 120), (56, 120)]
    raised = run(speeds, limit=100, hysteresis=5, min_duration=timedelta(seconds=30))
    assert [r.window_start if r else None for r in raised] == [None, None, None, None, at(25)]


def test_below_threshold_for_batteries() -> None:
    levels = [(0, 30), (10, 19), (20, 22), (30, 18), (40, 26), (50, 15)]
    raised = run(levels, limit=20, hysteresis=5, min_duration=timedelta(0), above=False)
    assert [r.window_start if r else None for r in raised] == [
        None,
        at(10),
        None,
        None,
        None,
        at(50),
    ]


def step(edge: FenceEdge, inside: bool, margin: bool, s: float, confirm: float = 0):
    return fence_step(
        edge, inside=inside, within_margin=margin, at=at(s), confirm=timedelta(seconds=confirm)
    )


def test_fence_edge_hysteresis_needs_the_margin_crossed_to_leave() -> None:
    edge = FenceEdge()
    edge, crossed = step(edge, True, True, 0)
    assert crossed is not None and crossed.entered and crossed.at == at(0)
    # just outside the shape but within the margin: still inside
    edge, crossed = step(edge, False, True, 10)
    assert crossed is None and edge.inside
    edge, crossed = step(edge, True, True, 20)
    assert crossed is None
    edge, crossed = step(edge, False, False, 30)
    assert crossed is not None and not crossed.entered and not edge.inside


def test_fence_confirmation_debounces_a_quick_in_and_out() -> None:
    edge = FenceEdge()
    edge, crossed = step(edge, True, True, 0, confirm=20)
    assert crossed is None and edge.pending_since == at(0)
    edge, crossed = step(edge, False, False, 10, confirm=20)
    assert crossed is None and edge.pending_since is None and not edge.inside
    edge, crossed = step(edge, True, True, 30, confirm=20)
    edge, crossed = step(edge, True, True, 45, confirm=20)
    assert crossed is None
    edge, crossed = step(edge, True, True, 50, confirm=20)
    assert crossed is not None and crossed.at == at(30) and edge.since == at(30)


def test_dwell_is_due_once_after_its_delay() -> None:
    edge = FenceEdge(inside=True, since=at(0))
    assert dwell_due(edge, timedelta(seconds=60), at(59)) is None
    assert dwell_due(edge, timedelta(seconds=60), at(61)) == at(60)
    raised = FenceEdge(inside=True, since=at(0), dwell_raised=True)
    assert dwell_due(raised, timedelta(seconds=60), at(61)) is None
    assert dwell_due(edge, timedelta(0), at(61)) is None
