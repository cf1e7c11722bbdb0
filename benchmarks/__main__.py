"""Run every benchmark and print the ratios: ``python -m benchmarks``."""

from __future__ import annotations

import sys

from benchmarks import (
    alarm,
    decode,
    decode_jt808,
    gateway,
    geocoding,
    history_store,
    idle_memory,
    ingest_pipeline,
    media,
    notification,
    sealing,
)
from benchmarks.common import save


def main() -> int:
    results = []
    for bench in (
        decode,
        decode_jt808,
        ingest_pipeline,
        idle_memory,
        history_store,
        gateway,
        geocoding,
        alarm,
        media,
        notification,
        sealing,
    ):
        result = bench.run()
        print(result.line(), flush=True)
        results.append(result)
    print(f"results: {save(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
