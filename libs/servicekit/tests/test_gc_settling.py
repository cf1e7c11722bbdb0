"""A service process settles the garbage collector once it serves (ingest, media, alarm;
not in tests)."""

from __future__ import annotations

import gc

from trackstream_servicekit import GC_GEN0_THRESHOLD, settle_garbage_collector


def test_settling_freezes_the_start_up_heap_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_GEN0_THRESHOLD, before[1], before[2])
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
