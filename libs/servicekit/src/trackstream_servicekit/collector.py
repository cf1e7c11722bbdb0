"""The cyclic garbage collector of a serving process, settled once it serves."""

from __future__ import annotations

import gc

#: young-generation threshold while serving (CPython's default is 700)
GC_GEN0_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """Once started (in the service's own process, not in tests): move everything built so far
    (modules, protobuf descriptors, settings, registries, tables loaded at start) out of the
    collector's sight, and collect the young generation less often.

    A service handling thousands of events a second allocates a few hundred short-lived objects
    per event; with the defaults the cyclic collector ran every few events and now and then
    walked the whole start-up heap (ingest: 4.5% of its CPU under load, sampled with py-spy
    --native; the alarm engine, with 10,000 geofences in memory, more). Nothing here keeps
    garbage alive: reference counting frees almost everything at once, and cycles are still
    collected, in batches of 10,000 young objects instead of 700.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
