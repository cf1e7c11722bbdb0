"""Crypto-shredding at erasure: the privacy service destroys the data keys of the erased
subjects (docs/architecture.md, "Sealed fields"), as the participant ``privacy-keys``.

Every device of the order and every account of it is a subject whose key may have sealed
events (the Kafka key of sealed topics). For each, ``DataKeys.destroy`` writes the deny-list
rows first (the key id, and the subject's hash so no producer ever creates a new key for it)
and then deletes the key row; a second run finds nothing left and says so (deleted 0). Once the
key is gone, every sealed copy of the subject's personal fields is unreadable: consumers skip
those records (``skipped_shredded``), so a replay from offset 0 does not bring them back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka.sealing import DataKeys

PARTICIPANT = "privacy-keys"
KEYS_TABLE = "subject_data_keys"
STORE = f"cassandra:{KEYS_TABLE}"


class KeyShredder:
    def __init__(self, data_keys: DataKeys, *, gc_grace_s: Callable[[], Awaitable[int]]) -> None:
        self._keys = data_keys
        #: the key table's gc_grace_seconds: when the deleted key rows are physically gone
        self._gc_grace_s = gc_grace_s

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        subjects = sorted({*order.device_ids, *order.account_ids})
        gc_grace_s = await self._gc_grace_s()
        destroyed = 0
        for subject in subjects:
            destroyed += await self._keys.destroy(subject)
        return [
            StoreErased(
                store=STORE,
                mechanism="crypto-shred",
                deleted=destroyed,
                # unusable at once (deny-listed); the key rows' tombstones purge after gc_grace
                physically_gone_by=to_timestamp(datetime.now(UTC) + timedelta(seconds=gc_grace_s)),
            )
        ]
