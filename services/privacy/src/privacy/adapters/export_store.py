"""Export state in Cassandra (migration 0012). Every write carries a TTL so that the rows of an
export go by themselves ``record_ttl`` after it was asked for; state changes are conditional
(``IF state = RUNNING`` / ``IF EXISTS``) so an export erased or failed meanwhile is never
brought back by its builder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from trackstream.privacy.v1.privacy_service_pb2 import ExportPart, ExportState, ExportStatus
from trackstream_cassandra import CassandraStore

RUNNING_SHARD = 0
_COLUMNS = (
    "export_id, account_id, requested_by, requested_at, state, object_key, parts, error, "
    "expires_at, heartbeat_at"
)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass
class ExportRecord:
    export_id: str
    account_id: str
    requested_by: str
    requested_at: datetime
    state: ExportState.ValueType = ExportState.EXPORT_STATE_RUNNING
    object_key: str = ""
    parts: list[ExportPart] = field(default_factory=list)
    error: str = ""
    expires_at: datetime | None = None
    heartbeat_at: datetime | None = None


class ExportStore:
    def __init__(self, cassandra: CassandraStore, *, record_ttl: timedelta) -> None:
        self._db = cassandra
        self._ttl = record_ttl

    def _ttl_s(self, requested_at: datetime, now: datetime) -> int:
        """What is left of the record TTL of an export asked for at ``requested_at``."""
        return max(1, int((requested_at + self._ttl - now).total_seconds()))

    async def create(self, record: ExportRecord, now: datetime) -> bool:
        """Record a new export (RUNNING); False when the id is known already."""
        ttl = self._ttl_s(record.requested_at, now)
        rows = await self._db.execute(
            "INSERT INTO privacy_exports (export_id, account_id, requested_by, requested_at, "
            "state, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL ?",
            (
                record.export_id,
                record.account_id,
                record.requested_by,
                record.requested_at,
                int(ExportState.EXPORT_STATE_RUNNING),
                now,
                ttl,
            ),
        )
        if not rows[0][0]:
            return False
        await self._db.execute(
            "INSERT INTO privacy_running_exports (shard, export_id) VALUES (?, ?) USING TTL ?",
            (RUNNING_SHARD, record.export_id, ttl),
        )
        await self.add_subjects(record, [record.account_id], now)
        return True

    async def add_subjects(
        self, record: ExportRecord, subject_ids: Sequence[str], now: datetime
    ) -> None:
        """Index the export by the subjects its archive names (for erasure)."""
        ttl = self._ttl_s(record.requested_at, now)
        for subject_id in subject_ids:
            await self._db.execute(
                "INSERT INTO privacy_exports_by_subject (subject_id, export_id) VALUES (?, ?) "
                "USING TTL ?",
                (subject_id, record.export_id, ttl),
            )

    async def get(self, export_id: str) -> ExportRecord | None:
        rows = await self._db.execute(
            f"SELECT {_COLUMNS} FROM privacy_exports WHERE export_id = ?", (export_id,)
        )
        if not rows:
            return None
        row: Any = rows[0]
        parts = list(ExportStatus.FromString(row.parts).parts) if row.parts else []
        return ExportRecord(
            export_id=row.export_id,
            account_id=row.account_id or "",
            requested_by=row.requested_by or "",
            requested_at=_aware(row.requested_at) or datetime.min.replace(tzinfo=UTC),
            state=ExportState.ValueType(row.state or 0),
            object_key=row.object_key or "",
            parts=parts,
            error=row.error or "",
            expires_at=_aware(row.expires_at),
            heartbeat_at=_aware(row.heartbeat_at),
        )

    async def beat(self, record: ExportRecord, now: datetime) -> bool:
        """The builder is alive; False when the export is gone (erased meanwhile)."""
        rows = await self._db.execute(
            "UPDATE privacy_exports USING TTL ? SET heartbeat_at = ? WHERE export_id = ? IF EXISTS",
            (self._ttl_s(record.requested_at, now), now, record.export_id),
        )
        return bool(rows[0][0])

    async def complete(
        self,
        record: ExportRecord,
        *,
        object_key: str,
        parts: Sequence[ExportPart],
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """RUNNING -> READY; False when it is not RUNNING any more (failed, or erased)."""
        rows = await self._db.execute(
            "UPDATE privacy_exports USING TTL ? SET state = ?, object_key = ?, parts = ?, "
            "expires_at = ? WHERE export_id = ? IF state = ?",
            (
                self._ttl_s(record.requested_at, now),
                int(ExportState.EXPORT_STATE_READY),
                object_key,
                ExportStatus(parts=parts).SerializeToString(),
                expires_at,
                record.export_id,
                int(ExportState.EXPORT_STATE_RUNNING),
            ),
        )
        return bool(rows[0][0])

    async def fail(self, record: ExportRecord, error: str, now: datetime) -> bool:
        """RUNNING -> FAILED with why; False when it is not RUNNING any more."""
        rows = await self._db.execute(
            "UPDATE privacy_exports USING TTL ? SET state = ?, error = ? WHERE export_id = ? "
            "IF state = ?",
            (
                self._ttl_s(record.requested_at, now),
                int(ExportState.EXPORT_STATE_FAILED),
                error,
                record.export_id,
                int(ExportState.EXPORT_STATE_RUNNING),
            ),
        )
        return bool(rows[0][0])

    async def running(self) -> list[str]:
        rows = await self._db.execute(
            "SELECT export_id FROM privacy_running_exports WHERE shard = ?", (RUNNING_SHARD,)
        )
        return [r.export_id for r in rows]

    async def forget_running(self, export_id: str) -> None:
        await self._db.execute(
            "DELETE FROM privacy_running_exports WHERE shard = ? AND export_id = ?",
            (RUNNING_SHARD, export_id),
        )

    async def exports_of(self, subject_id: str) -> list[str]:
        rows = await self._db.execute(
            "SELECT export_id FROM privacy_exports_by_subject WHERE subject_id = ?",
            (subject_id,),
        )
        return [r.export_id for r in rows]

    async def delete_export(self, export_id: str) -> int:
        """The export's own rows (state, running mark); returns how many existed."""
        existed = await self.get(export_id) is not None
        await self._db.execute("DELETE FROM privacy_exports WHERE export_id = ?", (export_id,))
        await self.forget_running(export_id)
        return int(existed)

    async def delete_subject(self, subject_id: str) -> int:
        """The subject's index partition; returns how many rows it had."""
        found = len(await self.exports_of(subject_id))
        await self._db.execute(
            "DELETE FROM privacy_exports_by_subject WHERE subject_id = ?", (subject_id,)
        )
        return found
