"""Media's part in an erasure (docs/architecture.md, "Erasure"): every object version of the
order's devices and every catalogue row about them.

It reuses :meth:`MediaApp.erase_device` (what the ``EraseDevice`` rpc runs: every version
under ``{device_id}/``, then the catalogue rows found through ``media_by_device``) and adds
what that leaves: the retention sweeper's ``media_expiry_by_day`` entries and the device's
``media_capture_requests``; ``media_alarm_candidates`` (alarms waiting for their media) go with
the device's partition in ``erase_device``. Order: the rows found through ``media_by_device``
(expiry entries, ``media_by_id``, ``media_by_alarm``) go before ``media_by_device`` itself,
which is the index, so a crash half-way leaves the index pointing at what is left and the
re-sent order finishes it. A second run finds nothing: every count is 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from media.handlers import MediaApp
from media.ports import Catalogue
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream_cassandra import CassandraStore
from trackstream_kafka.erasure import cassandra_rows_erased

PARTICIPANT = "media"
BY_DEVICE, BY_ID, BY_ALARM = "media_by_device", "media_by_id", "media_by_alarm"
EXPIRY, CAPTURES = "media_expiry_by_day", "media_capture_requests"
CANDIDATES = "media_alarm_candidates"


class MediaErasure:
    def __init__(self, app: MediaApp, cassandra: CassandraStore) -> None:
        self._app = app
        self._catalogue: Catalogue = app.catalogue
        self._db = cassandra

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        counts = dict.fromkeys((BY_DEVICE, BY_ID, BY_ALARM, EXPIRY, CAPTURES, CANDIDATES), 0)
        objects = 0
        for device_id in order.device_ids:
            deleted, rows = await self.erase_device(device_id)
            objects += deleted
            for table, n in rows.items():
                counts[table] += n
        now = Timestamp()
        now.FromDatetime(datetime.now(UTC))
        stores = [
            cassandra_rows_erased(
                table,
                n,
                gc_grace_s=await self._db.gc_grace_seconds(table),
                mechanism="partition-delete" if table in (CAPTURES, CANDIDATES) else "row-delete",
            )
            for table, n in counts.items()
        ]
        # an unversioned bucket, and every version deleted anyway: gone when deleted
        stores.append(
            StoreErased(
                store=f"s3:{self._app.store.bucket}",
                mechanism="object-versions",
                deleted=objects,
                physically_gone_by=now,
            )
        )
        return stores

    async def erase_device(self, device_id: str) -> tuple[int, dict[str, int]]:
        """Object versions deleted, and rows deleted per table."""
        records = await self._catalogue.all_of_device(device_id)
        expiring = 0
        for record in records:
            rows = await self._db.execute(
                "SELECT expires_day FROM media_by_id WHERE media_id = ?", (record.media_id,)
            )
            if rows and rows[0].expires_day is not None:
                await self._db.execute(
                    "DELETE FROM media_expiry_by_day WHERE expires_day = ? AND media_id = ?",
                    (rows[0].expires_day, record.media_id),
                )
                expiring += 1
            if record.alarm_id:
                await self._db.execute(
                    "DELETE FROM media_by_alarm WHERE alarm_id = ? AND captured_time = ? "
                    "AND media_id = ?",
                    (record.alarm_id, record.captured_time, record.media_id),
                )
            await self._db.execute("DELETE FROM media_by_id WHERE media_id = ?", (record.media_id,))
        captures = await self._db.execute(
            "SELECT device_media_id FROM media_capture_requests WHERE device_id = ?", (device_id,)
        )
        await self._db.execute(
            "DELETE FROM media_capture_requests WHERE device_id = ?", (device_id,)
        )
        candidates = await self._db.execute(
            "SELECT alarm_id FROM media_alarm_candidates WHERE device_id = ?", (device_id,)
        )
        # the objects, the alarm candidates, then media_by_device (and again the rows above:
        # no-ops now)
        objects, _ = await self._app.erase_device(device_id)
        return objects, {
            BY_DEVICE: len(records),
            BY_ID: len(records),
            BY_ALARM: sum(1 for r in records if r.alarm_id),
            EXPIRY: expiring,
            CAPTURES: len(captures),
            CANDIDATES: len(candidates),
        }
