from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from privacy.domain.erasure import Erasure
from trackstream.privacy.v1.erasure_pb2 import ErasureAcknowledged, ErasureOrdered


class FakeLedger:
    """The Ledger's contract in memory (the real one is tested against Cassandra)."""

    def __init__(self) -> None:
        self.rows: dict[str, Erasure] = {}
        self.acks: dict[str, dict[str, ErasureAcknowledged]] = {}
        self.pending_ids: set[str] = set()
        self.completions = 0

    async def create(self, erasure: Erasure) -> bool:
        self.pending_ids.add(erasure.request_id)
        if erasure.request_id in self.rows:
            return False
        assert erasure.order is not None  # stored as bytes, like the real ledger
        order = ErasureOrdered.FromString(erasure.order.SerializeToString())
        self.rows[erasure.request_id] = replace(erasure, acks={}, order=order)
        return True

    async def get(self, request_id: str) -> Erasure | None:
        row = self.rows.get(request_id)
        if row is None:
            return None
        return replace(row, acks=dict(self.acks.get(request_id, {})))

    async def pending(self) -> list[str]:
        return sorted(self.pending_ids)

    async def record_ack(self, ack: ErasureAcknowledged) -> None:
        known = self.acks.setdefault(ack.request_id, {})
        if ack.participant in known and known[ack.participant].attempt > ack.attempt:
            return
        known[ack.participant] = ack

    async def reordered(self, request_id: str, attempt: int, at: datetime) -> None:
        row = self.rows[request_id]
        assert row.order is not None
        row.order.attempt = attempt
        row.last_ordered_at = at

    async def complete(
        self, request_id: str, certificate: bytes, requested_by: str, at: datetime
    ) -> bool:
        row = self.rows[request_id]
        if row.done:
            return False
        self.rows[request_id] = replace(
            row, done=True, certificate=certificate, order=None, requested_by=requested_by
        )
        self.completions += 1
        return True

    async def forget_pending(self, request_id: str) -> None:
        self.pending_ids.discard(request_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
