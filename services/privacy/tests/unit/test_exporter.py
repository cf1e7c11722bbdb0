"""The exporter with an in-memory store and bucket (the real ones run in
tests/integration/test_export_flow.py): an export becomes READY with a link and its parts; a
failing service makes it FAILED with a reason and no identifier; a RUNNING export whose builder
stopped beating is failed by the sweep, a live one is not; an export erased while it is built
leaves no archive and no row."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import grpc
import pytest

from privacy.adapters.export_store import ExportRecord
from privacy.export.exporter import INTERRUPTED, Exporter, InvalidExport
from services.privacy.tests.unit.conftest import FakeData
from trackstream.history.v1.history_service_pb2 import TrackPoint
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered
from trackstream.privacy.v1.privacy_service_pb2 import (
    ExportPart,
    ExportState,
    RequestExportRequest,
)

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


class FakeStore:
    """ExportStore's contract in memory (conditional updates included)."""

    def __init__(self) -> None:
        self.rows: dict[str, ExportRecord] = {}
        self.running_ids: set[str] = set()
        self.subjects: dict[str, set[str]] = {}

    async def create(self, record: ExportRecord, now: datetime) -> bool:
        if record.export_id in self.rows:
            return False
        self.rows[record.export_id] = replace(record, heartbeat_at=now)
        self.running_ids.add(record.export_id)
        await self.add_subjects(record, [record.account_id], now)
        return True

    async def add_subjects(self, record: ExportRecord, ids: Sequence[str], now: datetime) -> None:
        for subject in ids:
            self.subjects.setdefault(subject, set()).add(record.export_id)

    async def get(self, export_id: str) -> ExportRecord | None:
        row = self.rows.get(export_id)
        return None if row is None else replace(row)

    async def beat(self, record: ExportRecord, now: datetime) -> bool:
        if record.export_id not in self.rows:
            return False
        self.rows[record.export_id].heartbeat_at = now
        return True

    async def complete(
        self,
        record: ExportRecord,
        *,
        object_key: str,
        parts: Sequence[ExportPart],
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        row = self.rows.get(record.export_id)
        if row is None or row.state != ExportState.EXPORT_STATE_RUNNING:
            return False
        row.state, row.object_key, row.parts = ExportState.EXPORT_STATE_READY, object_key, [*parts]
        row.expires_at = expires_at
        return True

    async def fail(self, record: ExportRecord, error: str, now: datetime) -> bool:
        row = self.rows.get(record.export_id)
        if row is None or row.state != ExportState.EXPORT_STATE_RUNNING:
            return False
        row.state, row.error = ExportState.EXPORT_STATE_FAILED, error
        return True

    async def running(self) -> list[str]:
        return sorted(self.running_ids)

    async def forget_running(self, export_id: str) -> None:
        self.running_ids.discard(export_id)

    async def exports_of(self, subject_id: str) -> list[str]:
        return sorted(self.subjects.get(subject_id, set()))

    async def delete_export(self, export_id: str) -> int:
        self.running_ids.discard(export_id)
        return int(self.rows.pop(export_id, None) is not None)

    async def delete_subject(self, subject_id: str) -> int:
        return len(self.subjects.pop(subject_id, set()))


class FakeBucket:
    bucket = "trackstream-exports"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def upload(self, key: str, file: BinaryIO, size: int) -> None:
        file.seek(0)
        self.objects[key] = file.read(size)

    def download_url(self, key: str, valid_for: timedelta) -> str:
        return f"https://s3.example.org/{self.bucket}/{key}?ttl={int(valid_for.total_seconds())}"

    async def delete(self, key: str) -> bool:
        return self.objects.pop(key, None) is not None

    async def older_than(self, cutoff: datetime) -> list[str]:
        return []


class SlowData(FakeData):
    """Positions that wait until released (an export caught mid-build)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.reading = asyncio.Event()

    async def positions(self, device_id: str) -> AsyncIterator[Sequence[TrackPoint]]:
        self.reading.set()
        await self.release.wait()
        async for page in super().positions(device_id):
            yield page


class BrokenData(FakeData):
    async def subscriptions(self, account_id: str) -> Any:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "down"
        )


def _exporter(
    data: FakeData, store: FakeStore, bucket: FakeBucket, clock: list[datetime]
) -> Exporter:
    return Exporter(
        store=store,  # type: ignore[arg-type]
        bucket=bucket,  # type: ignore[arg-type]
        data=data,
        owned_devices=lambda account: ["dev-a1", "dev-a2"] if account == "acc-a" else [],
        url_ttl=timedelta(hours=1),
        stale_after=timedelta(minutes=5),
        concurrency=1,
        clock=lambda: clock[0],
    )


async def _finished(exporter: Exporter, export_id: str) -> Any:
    for _ in range(500):
        status = await exporter.status(export_id)
        if status is None or status.state != ExportState.EXPORT_STATE_RUNNING:
            return status
        await asyncio.sleep(0.01)
    raise AssertionError("the export did not finish")


async def test_an_export_becomes_ready_with_a_link_and_its_parts() -> None:
    store, bucket, clock = FakeStore(), FakeBucket(), [NOW]
    exporter = _exporter(FakeData(), store, bucket, clock)
    export_id = str(uuid.uuid4())
    first = await exporter.request(RequestExportRequest(export_id=export_id, account_id="acc-a"))
    assert first.state == ExportState.EXPORT_STATE_RUNNING
    status = await _finished(exporter, export_id)
    assert status.state == ExportState.EXPORT_STATE_READY
    assert status.download_url.endswith(f"/{export_id}.zip?ttl=3600")
    assert [p.path for p in status.parts][-1] == "manifest.json"
    assert set(bucket.objects) == {f"{export_id}.zip"}
    assert store.subjects["dev-a1"] == {export_id}  # indexed for erasure
    assert store.running_ids == set()
    clock[0] = NOW + timedelta(hours=2)
    expired = await exporter.status(export_id)
    assert expired is not None and expired.state == ExportState.EXPORT_STATE_FAILED
    with pytest.raises(InvalidExport):
        await exporter.request(RequestExportRequest(export_id=export_id, account_id="acc-b"))
    with pytest.raises(InvalidExport):
        await exporter.request(RequestExportRequest(export_id="e-1", account_id="acc-a"))


async def test_a_service_down_fails_the_export_with_a_reason_and_no_identifier() -> None:
    store, bucket = FakeStore(), FakeBucket()
    exporter = _exporter(BrokenData(), store, bucket, [NOW])
    export_id = str(uuid.uuid4())
    await exporter.request(RequestExportRequest(export_id=export_id, account_id="acc-a"))
    status = await _finished(exporter, export_id)
    assert status.state == ExportState.EXPORT_STATE_FAILED
    assert status.error == "a service did not answer (UNAVAILABLE); try again later"
    assert bucket.objects == {}


async def test_the_sweep_fails_a_stalled_export_and_leaves_a_live_one() -> None:
    store, bucket, clock = FakeStore(), FakeBucket(), [NOW]
    exporter = _exporter(FakeData(), store, bucket, clock)
    # built by a replica that crashed: RUNNING, last beat 10 minutes ago, not built here
    stalled = ExportRecord(
        export_id=str(uuid.uuid4()),
        account_id="acc-a",
        requested_by="",
        requested_at=NOW - timedelta(minutes=10),
    )
    await store.create(stalled, NOW - timedelta(minutes=10))
    fresh = replace(stalled, export_id=str(uuid.uuid4()), requested_at=NOW)
    await store.create(fresh, NOW - timedelta(minutes=1))
    await exporter.sweep()
    assert store.rows[stalled.export_id].state == ExportState.EXPORT_STATE_FAILED
    assert store.rows[stalled.export_id].error == INTERRUPTED
    assert store.rows[fresh.export_id].state == ExportState.EXPORT_STATE_RUNNING
    assert store.running_ids == {fresh.export_id}


async def test_an_export_erased_while_it_is_built_leaves_nothing() -> None:
    store, bucket = FakeStore(), FakeBucket()
    data = SlowData()
    exporter = _exporter(data, store, bucket, [NOW])
    export_id = str(uuid.uuid4())
    await exporter.request(RequestExportRequest(export_id=export_id, account_id="acc-a"))
    await asyncio.wait_for(data.reading.wait(), 5)
    stores = await exporter.erase(ErasureOrdered(request_id="r1", account_ids=["acc-a"]))
    data.release.set()
    by_store = {s.store: s.deleted for s in stores}
    assert by_store["cassandra:privacy_exports"] == 1
    assert by_store["cassandra:privacy_exports_by_subject"] == 1
    assert await exporter.status(export_id) is None
    assert bucket.objects == {} and store.rows == {} and store.running_ids == set()
    again = await exporter.erase(ErasureOrdered(request_id="r1", account_ids=["acc-a"]))
    assert sum(s.deleted for s in again) == 0  # idempotent


async def test_erasing_a_device_deletes_the_ready_exports_that_hold_it() -> None:
    store, bucket = FakeStore(), FakeBucket()
    exporter = _exporter(FakeData(), store, bucket, [NOW])
    export_id = str(uuid.uuid4())
    await exporter.request(RequestExportRequest(export_id=export_id, account_id="acc-a"))
    assert (await _finished(exporter, export_id)).state == ExportState.EXPORT_STATE_READY
    other = await exporter.erase(ErasureOrdered(request_id="r0", device_ids=["dev-b1"]))
    assert sum(s.deleted for s in other) == 0 and set(bucket.objects) == {f"{export_id}.zip"}
    stores = await exporter.erase(ErasureOrdered(request_id="r1", device_ids=["dev-a2"]))
    assert {s.store: s.deleted for s in stores}["s3:trackstream-exports"] == 1
    assert bucket.objects == {} and await exporter.status(export_id) is None
