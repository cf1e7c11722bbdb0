"""History's part in an erasure (docs/architecture.md, "Erasure"): every position, address and
last position of the order's devices, by partition deletes driven by the day index
(``position_days_by_device``), never a scan.

Order of the deletes: the day partitions first, the day index last, so a crash half-way leaves
the index pointing at what is left and the re-sent order finishes it. A second run finds no
days and no last position: every count is 0.
"""

from __future__ import annotations

import time

from history.adapters.store import ADDRESSES, DAYS, LAST, POSITIONS, delete_day_partitions
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_cassandra import CassandraStore
from trackstream_kafka.erasure import cassandra_rows_erased

PARTICIPANT = "history"


class HistoryErasure:
    def __init__(
        self, store: CassandraStore, *, future_tolerance_s: float, concurrency: int = 32
    ) -> None:
        self._store = store
        self._concurrency = concurrency
        #: past the furthest fix time last_position_by_device accepts
        self._ahead_s = future_tolerance_s + 3600

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        counts = dict.fromkeys((POSITIONS, ADDRESSES, DAYS, LAST), 0)
        for device_id in order.device_ids:
            for table, deleted in (await self.erase_device(device_id)).items():
                counts[table] += deleted
        return [
            cassandra_rows_erased(
                table, deleted, gc_grace_s=await self._store.gc_grace_seconds(table)
            )
            for table, deleted in counts.items()
        ]

    async def erase_device(self, device_id: str) -> dict[str, int]:
        """Partitions (positions, addresses), day-index rows and last-position rows deleted."""
        run = self._store.execute
        days = [
            r.day for r in await run(f"SELECT day FROM {DAYS} WHERE device_id = ?", (device_id,))
        ]
        await delete_day_partitions(self._store, device_id, days, concurrency=self._concurrency)
        last = await run(f"SELECT device_id FROM {LAST} WHERE device_id = ?", (device_id,))
        # the newest fix is written USING TIMESTAMP = its fix time, up to a day ahead (later
        # ones are flagged and not written there): a delete timestamped now would not shadow
        # such a fix, so it is timestamped past the furthest fix that can be written
        shadow_all = int((time.time() + self._ahead_s) * 1_000_000)
        await run(
            f"DELETE FROM {LAST} USING TIMESTAMP ? WHERE device_id = ?", (shadow_all, device_id)
        )
        await run(f"DELETE FROM {DAYS} WHERE device_id = ?", (device_id,))
        return {POSITIONS: len(days), ADDRESSES: len(days), DAYS: len(days), LAST: len(last)}
