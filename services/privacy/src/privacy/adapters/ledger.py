"""The erasure ledger in Cassandra (migration 0009)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from privacy.domain.erasure import Erasure
from trackstream.privacy.v1.erasure_pb2 import ErasureAcknowledged, ErasureOrdered
from trackstream.privacy.v1.privacy_service_pb2 import ErasureState
from trackstream_cassandra import CassandraStore

PENDING_SHARD = 0
_COLUMNS = (
    "request_id, subject_kind, subject_hash, requested_by, requested_at, erasure_order, "
    "attempt, last_ordered_at, state, certificate"
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Ledger:
    def __init__(self, cassandra: CassandraStore) -> None:
        self._db = cassandra

    async def create(self, erasure: Erasure) -> bool:
        """Ledger a new erasure (before any order goes out); False if the id is known."""
        assert erasure.order is not None
        await self._db.execute(
            "INSERT INTO privacy_pending_erasures (shard, request_id) VALUES (?, ?)",
            (PENDING_SHARD, erasure.request_id),
        )
        rows = await self._db.execute(
            "INSERT INTO privacy_erasures (request_id, subject_kind, subject_hash, requested_by, "
            "requested_at, erasure_order, attempt, last_ordered_at, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
            (
                erasure.request_id,
                int(erasure.subject_kind),
                erasure.subject_hash,
                erasure.requested_by,
                erasure.requested_at,
                erasure.order.SerializeToString(),
                erasure.order.attempt,
                erasure.last_ordered_at,
                int(ErasureState.ERASURE_STATE_IN_PROGRESS),
            ),
        )
        return bool(rows[0][0])

    async def get(self, request_id: str) -> Erasure | None:
        rows = await self._db.execute(
            f"SELECT {_COLUMNS} FROM privacy_erasures WHERE request_id = ?", (request_id,)
        )
        if not rows:
            return None
        erasure = self._erasure(rows[0])
        for row in await self._db.execute(
            "SELECT participant, acknowledgement FROM privacy_erasure_acks WHERE request_id = ?",
            (request_id,),
        ):
            erasure.acks[row.participant] = ErasureAcknowledged.FromString(row.acknowledgement)
        return erasure

    @staticmethod
    def _erasure(row: Any) -> Erasure:
        return Erasure(
            request_id=row.request_id,
            subject_kind=row.subject_kind,
            subject_hash=row.subject_hash,
            requested_by=row.requested_by or "",
            requested_at=_aware(row.requested_at),
            order=ErasureOrdered.FromString(row.erasure_order) if row.erasure_order else None,
            last_ordered_at=_aware(row.last_ordered_at),
            done=row.state == ErasureState.ERASURE_STATE_DONE,
            certificate=row.certificate,
        )

    async def pending(self) -> list[str]:
        rows = await self._db.execute(
            "SELECT request_id FROM privacy_pending_erasures WHERE shard = ?", (PENDING_SHARD,)
        )
        return [r.request_id for r in rows]

    async def record_ack(self, ack: ErasureAcknowledged) -> None:
        """Keep a participant's latest acknowledgement (a late answer to an older attempt
        does not replace a newer one)."""
        rows = await self._db.execute(
            "SELECT attempt FROM privacy_erasure_acks WHERE request_id = ? AND participant = ?",
            (ack.request_id, ack.participant),
        )
        if rows and rows[0].attempt > ack.attempt:
            return
        await self._db.execute(
            "INSERT INTO privacy_erasure_acks (request_id, participant, attempt, acknowledgement) "
            "VALUES (?, ?, ?, ?)",
            (ack.request_id, ack.participant, ack.attempt, ack.SerializeToString()),
        )

    async def reordered(self, request_id: str, attempt: int, at: datetime) -> None:
        await self._db.execute(
            "UPDATE privacy_erasures SET attempt = ?, last_ordered_at = ? WHERE request_id = ?",
            (attempt, at, request_id),
        )

    async def complete(
        self, request_id: str, certificate: bytes, requested_by: str, at: datetime
    ) -> bool:
        """Store the certificate and forget the order, once: True for the one caller whose
        conditional update applied (exactly one certificate per erasure)."""
        rows = await self._db.execute(
            "UPDATE privacy_erasures SET state = ?, certificate = ?, erasure_order = null, "
            "requested_by = ?, completed_at = ? WHERE request_id = ? IF state = ?",
            (
                int(ErasureState.ERASURE_STATE_DONE),
                certificate,
                requested_by,
                at,
                request_id,
                int(ErasureState.ERASURE_STATE_IN_PROGRESS),
            ),
        )
        return bool(rows[0][0])

    async def forget_pending(self, request_id: str) -> None:
        await self._db.execute(
            "DELETE FROM privacy_pending_erasures WHERE shard = ? AND request_id = ?",
            (PENDING_SHARD, request_id),
        )
