"""Shared benchmark plumbing: repeat-and-take-best timing, results as JSON lines."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trackstream_protocols.model import Fix

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    name: str
    #: what we measure, and the baseline it is compared with, in the same unit
    value: float
    baseline: float
    unit: str
    #: value / baseline for throughputs (higher is better)
    ratio: float
    target: float | None = None
    details: dict[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target

    def line(self) -> str:
        verdict = "" if self.passed is None else (" PASS" if self.passed else " FAIL")
        target = f" (target >= {self.target})" if self.target is not None else ""
        return (
            f"{self.name:32} {self.value:12,.0f} vs {self.baseline:12,.0f} {self.unit:10}"
            f" ratio {self.ratio:5.2f}{target}{verdict}"
        )


def best_rates(*runs: Callable[[], int], repeats: int = 7) -> list[float]:
    """Each run's best rate (items per second; a run returns its item count) over ``repeats``
    rounds. The runs alternate within every round, so load from other processes falls on all
    of them alike and the ratios stay stable on a busy machine."""
    best = [0.0] * len(runs)
    for _ in range(repeats):
        for i, run in enumerate(runs):
            started = time.perf_counter()
            items = run()
            best[i] = max(best[i], items / (time.perf_counter() - started))
    return best


def save(results: list[Result]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    with path.open("w") as out:
        for r in results:
            out.write(json.dumps({**asdict(r), "passed": r.passed, "machine": machine}) + "\n")
    return path


def route_fixes(count: int, *, lane: int = 0) -> list[Fix]:
    """Plausible, varied positions (a slow drift with changing speed and course)."""
    start = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    return [
        Fix(
            fix_time=start + timedelta(seconds=10 * i),
            latitude=41.0 + lane / 1000 + (i % 5000) / 100_000,
            longitude=28.9 + (i % 7000) / 100_000,
            speed_kmh=float(i % 90),
            course_deg=float((i * 13) % 360),
            valid=True,
            satellites=8 + i % 5,
        )
        for i in range(count)
    ]
