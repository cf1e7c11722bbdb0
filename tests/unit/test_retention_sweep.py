"""The shared retention sweep round (trackstream_servicekit.retention_sweep): which devices it
asks to delete what, with which cut-off, and what it counts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from trackstream_servicekit.retention_sweep import sweep_devices, sweep_forever

NOW = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)


def _swept(kind: str, store: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "trackstream_retention_swept_total", {"kind": kind, "store": store}
        )
        or 0.0
    )


async def test_only_devices_of_accounts_with_a_retention_are_swept_at_their_cutoff() -> None:
    asked: list[tuple[str, datetime]] = []

    async def delete_older(device_id: str, older_than: datetime) -> Mapping[str, int]:
        asked.append((device_id, older_than))
        return {"days": 2, "rows": 0}

    days = {"short": 1, "long": 30, "keep": 0}
    before = _swept("test", "days")
    deleted = await sweep_devices(
        [("d1", "short"), ("d2", "keep"), ("d3", "long"), ("d4", "unknown")],
        lambda account: days.get(account, 0),
        delete_older,
        kind="test",
        now=NOW,
    )
    assert asked == [("d1", NOW - timedelta(days=1)), ("d3", NOW - timedelta(days=30))]
    assert deleted == {"days": 4}
    assert _swept("test", "days") == before + 4
    assert _swept("test", "rows") == 0  # nothing deleted: nothing counted


async def test_a_failed_round_is_retried_at_the_next() -> None:
    stopping = asyncio.Event()
    rounds: list[int] = []

    async def sweep_round() -> Mapping[str, int]:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("Cassandra away")
        stopping.set()
        return {}

    await asyncio.wait_for(
        sweep_forever(sweep_round, kind="test", interval_s=0.01, stopping=stopping), 5
    )
    assert len(rounds) == 2
