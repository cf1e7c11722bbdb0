"""Debounce and hysteresis, per device and rule: a value hovering at a limit, or a device
hovering on a fence edge, raises one alarm, not a flood.

* :func:`threshold_step`: the condition (value beyond the limit) must hold for a minimum
  duration before it raises; once raised it stays active until the value is back beyond the
  limit by the hysteresis (the band between does neither).
* :func:`fence_step`: a crossing counts once the device stayed on the new side for the
  confirmation time; leaving needs the device beyond the fence's edge margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ThresholdState:
    #: the alarm was raised and the condition has not cleared yet
    active: bool = False
    #: the condition started here and waits for its minimum duration
    pending_since: datetime | None = None


_CLEAR = ThresholdState()


@dataclass(frozen=True, slots=True)
class Raised:
    """A condition confirmed: raise its alarm, identified by the window start."""

    window_start: datetime


def threshold_step(
    state: ThresholdState,
    value: float,
    at: datetime,
    *,
    limit: float,
    hysteresis: float,
    min_duration: timedelta,
    above: bool = True,
) -> tuple[ThresholdState, Raised | None]:
    """One observation of ``value`` at ``at``. ``above``: the condition is value > limit
    (clears at value <= limit - hysteresis); otherwise value < limit (clears at >= limit +
    hysteresis)."""
    beyond = value > limit if above else value < limit
    cleared = value <= limit - hysteresis if above else value >= limit + hysteresis
    if state.active:
        return (_CLEAR if cleared else state), None
    if not beyond:
        return _CLEAR, None
    since = state.pending_since or at
    if at - since >= min_duration:
        return ThresholdState(active=True), Raised(since)
    return ThresholdState(pending_since=since), None


@dataclass(frozen=True, slots=True)
class FenceEdge:
    inside: bool = False
    #: since when on this side (None: never observed)
    since: datetime | None = None
    #: first observation on the other side, waiting for its confirmation
    pending_since: datetime | None = None
    dwell_raised: bool = False


@dataclass(frozen=True, slots=True)
class Crossed:
    entered: bool
    #: when the device crossed (the first observation on the new side)
    at: datetime


def fence_step(
    edge: FenceEdge, *, inside: bool, within_margin: bool, at: datetime, confirm: timedelta
) -> tuple[FenceEdge, Crossed | None]:
    """One observation of the device against one fence."""
    # leaving needs the margin crossed too
    on_other_side = not within_margin if edge.inside else inside
    if not on_other_side:
        if edge.since is not None and edge.pending_since is None:
            return edge, None  # the usual case: nothing changes
        return FenceEdge(edge.inside, edge.since or at, None, edge.dwell_raised), None
    crossing = edge.pending_since or at
    if at - crossing >= confirm:
        return FenceEdge(inside=not edge.inside, since=crossing), Crossed(not edge.inside, crossing)
    return FenceEdge(edge.inside, edge.since, crossing, edge.dwell_raised), None


def dwell_due(edge: FenceEdge, dwell: timedelta, now: datetime) -> datetime | None:
    """When the dwell alarm of a device inside is due (its stamp), if it is due by ``now``."""
    if not edge.inside or edge.dwell_raised or edge.since is None or dwell <= timedelta(0):
        return None
    due = edge.since + dwell
    return due if due <= now else None
