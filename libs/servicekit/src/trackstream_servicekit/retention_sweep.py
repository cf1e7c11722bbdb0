"""The retention sweep history, alarm and media share (issue 8, docs/architecture.md
"Retention per account"): a shortened retention reaches the data already stored, not only new rows.

Each round walks the devices the service knows (identity's registry, held in memory: never a
scan of a table), resolves each owner's retention, and asks the service to delete what the
device has older than it; the service does that through its own index (a day index, or a
partition clustered by time). Counted in ``trackstream_retention_swept_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta

from prometheus_client import Counter

log = logging.getLogger(__name__)

SWEPT = Counter(
    "trackstream_retention_swept_total",
    "What the retention sweep deleted (partitions, rows or objects), by data kind and store",
    ["kind", "store"],
)
SWEEP_ROUNDS = Counter(
    "trackstream_retention_sweep_rounds_total",
    "Retention sweep rounds, by data kind and outcome (ok, failed)",
    ["kind", "outcome"],
)

#: delete what ``device_id`` holds older than the time given; returns the count per store
DeleteOlder = Callable[[str, datetime], Awaitable[Mapping[str, int]]]


async def sweep_devices(
    devices: Iterable[tuple[str, str]],
    days_of: Callable[[str], int],
    delete_older: DeleteOlder,
    *,
    kind: str,
    now: datetime,
) -> dict[str, int]:
    """One round over ``(device id, owner account id)``: for each device whose owner keeps
    its data ``days_of(account) > 0`` days, what is older than that goes. Returns the count
    per store (also added to the metric)."""
    total: Tally[str] = Tally()
    for device_id, account_id in list(devices):
        days = days_of(account_id)
        if days <= 0:
            continue
        deleted = await delete_older(device_id, now - timedelta(days=days))
        for store, count in deleted.items():
            if count:
                total[store] += count
                SWEPT.labels(kind, store).inc(count)
    return dict(total)


async def sweep_forever(
    sweep_round: Callable[[], Awaitable[Mapping[str, int]]],
    *,
    kind: str,
    interval_s: float,
    stopping: asyncio.Event,
) -> None:
    """Run ``sweep_round`` now and every ``interval_s`` until ``stopping``; a failed round is
    logged and retried at the next (what it left is still older than the retention)."""
    while not stopping.is_set():
        try:
            deleted = await sweep_round()
            SWEEP_ROUNDS.labels(kind, "ok").inc()
            if deleted:
                log.info("retention sweep", extra={"kind": kind, "deleted": dict(deleted)})
        except Exception:
            SWEEP_ROUNDS.labels(kind, "failed").inc()
            log.exception("retention sweep failed; retried next round", extra={"kind": kind})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
