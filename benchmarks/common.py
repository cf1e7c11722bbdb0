"""Shared benchmark plumbing: repeat-and-take-best timing, results as JSON lines."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable, Iterator
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


READ_SIZE = 4096
DECODE_TARGET = 0.5


def compare_decoders(
    name: str,
    frames: list[bytes],
    *,
    reference: Callable[[bytes], object],
    stream_reference: Callable[[Iterable[bytes]], int],
    codec: Callable[[Iterable[bytes]], int],
    repeats: int,
) -> Result:
    """A codec against the least-code reference on the same frames: ``reference`` decodes one
    frame already cut out of the stream (the ratio the target applies to); ``stream_reference``
    and ``codec`` take the stream in the same 4 KiB reads, so ``details["stream_ratio"]``
    compares like with like. Both stream functions return how many frames they decoded."""
    stream = b"".join(frames)

    def reads() -> Iterator[bytes]:
        return (stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE))

    def one_by_one() -> int:
        for frame in frames:
            reference(frame)
        return len(frames)

    assert codec(reads()) == len(frames) == stream_reference(reads()), "every frame must decode"
    baseline, stream_baseline, value = best_rates(
        one_by_one, lambda: stream_reference(reads()), lambda: codec(reads()), repeats=repeats
    )
    return Result(
        name=name,
        value=value,
        baseline=baseline,
        unit="frames/s",
        ratio=value / baseline,
        target=DECODE_TARGET,
        details={
            "frames": len(frames),
            "stream_baseline": round(stream_baseline),
            "stream_ratio": round(value / stream_baseline, 3),
        },
    )


def stream_line(result: Result) -> str:
    """The comparison with the stream-splitting reference, under :meth:`Result.line`."""
    baseline, ratio = result.details["stream_baseline"], result.details["stream_ratio"]
    label = "  vs stream reference"
    return f"{label:32} {'':12} vs {baseline:12,} {result.unit:10} ratio {ratio:5.2f}"


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
