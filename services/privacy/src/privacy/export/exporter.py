"""Exports of an account (Art. 15/20): asked for over gRPC, built in the background, handed out
as a presigned link that expires, deleted after, and erased with the account or its devices.

- ``request`` records the export (RUNNING, ``IF NOT EXISTS``: the same id again is the same
  export) and starts building it; the answer does not wait.
- ``_build`` writes the archive to a temporary file (``privacy.export.builder``), uploads it as
  ``<export id>.zip``, then turns the export READY with a conditional update. When that update
  does not apply (the export was erased, or failed as stale meanwhile) the archive is deleted
  again. A builder beats while it works; the sweep fails RUNNING exports whose builder stopped
  beating (a crashed replica).
- ``sweep`` also deletes every archive older than the link's validity.
- ``erase`` is the exports' erasure participant: every export naming an erased account or device
  (``privacy_exports_by_subject``) loses its archive and its rows; a build of it still running
  here is cancelled first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import grpc
from prometheus_client import Counter

from privacy.adapters.archive_bucket import ArchiveBucket, archive_key
from privacy.adapters.export_store import ExportRecord, ExportStore
from privacy.domain.archive import ArchiveWriter, Part
from privacy.export.builder import build_archive
from privacy.export.source import AccountData, AccountNotFound
from trackstream.privacy.v1.erasure_pb2 import ErasureOrdered, StoreErased
from trackstream.privacy.v1.privacy_service_pb2 import (
    ExportPart,
    ExportState,
    ExportStatus,
    RequestExportRequest,
)
from trackstream_events.timestamps import set_timestamp, to_timestamp
from trackstream_kafka.erasure import cassandra_rows_erased

log = logging.getLogger(__name__)

EXPORTS = Counter(
    "trackstream_privacy_exports_total",
    "Exports by outcome: requested, ready, failed, expired (archive deleted), erased.",
    ["outcome"],
)
#: gc_grace_seconds of the export tables (migration 0012)
GC_GRACE_S = 259_200
INTERRUPTED = "interrupted: the service building it stopped; request a new export"
EXPIRED = "expired: the archive was deleted when its link expired; request a new export"


def devices_owned_by(device_owner: Mapping[str, str], account_id: str) -> list[str]:
    """The devices ``account_id`` owns, from the registry's device -> owner view."""
    return sorted(d for d, owner in device_owner.items() if owner == account_id)


class InvalidExport(Exception):
    """A request we refuse (bad id, no account, an id already used for another account)."""


def _error_text(err: BaseException) -> str:
    """Why an export failed, for its owner: what went wrong, never an identifier."""
    if isinstance(err, AccountNotFound):
        return "no such account"
    if isinstance(err, grpc.aio.AioRpcError):
        return f"a service did not answer ({err.code().name}); try again later"
    return f"the archive could not be built ({type(err).__name__}); try again later"


class Exporter:
    def __init__(
        self,
        *,
        store: ExportStore,
        bucket: ArchiveBucket,
        data: AccountData,
        owned_devices: Callable[[str], Sequence[str]],
        url_ttl: timedelta,
        stale_after: timedelta,
        concurrency: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._bucket = bucket
        self._data = data
        self._owned_devices = owned_devices
        self._url_ttl = url_ttl
        self._stale_after = stale_after
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock
        self._building: dict[str, asyncio.Task[None]] = {}

    # --- the API ---------------------------------------------------------------------------

    async def request(self, request: RequestExportRequest) -> ExportStatus:
        try:
            export_id = str(uuid.UUID(request.export_id))
        except ValueError:
            raise InvalidExport("export_id must be a UUID") from None
        if not request.account_id:
            raise InvalidExport("account_id is required")
        now = self._clock()
        record = ExportRecord(
            export_id=export_id,
            account_id=request.account_id,
            requested_by=request.requested_by,
            requested_at=now,
        )
        if await self._store.create(record, now):
            EXPORTS.labels("requested").inc()
            log.info("export requested", extra={"export_id": export_id})
            self._start(record)
            return self.status_message(record)
        known = await self._store.get(export_id)
        if known is None:  # created and erased in between
            raise InvalidExport("export_id was used already")
        if known.account_id != request.account_id:
            raise InvalidExport("export_id was used for another account")
        return self.status_message(known)

    async def status(self, export_id: str) -> ExportStatus | None:
        record = await self._store.get(export_id)
        return None if record is None else self.status_message(record)

    def status_message(self, record: ExportRecord) -> ExportStatus:
        status = ExportStatus(
            export_id=record.export_id,
            state=record.state,
            account_id=record.account_id,
            requested_by=record.requested_by,
            error=record.error,
        )
        set_timestamp(status.requested_at, record.requested_at)
        if record.state == ExportState.EXPORT_STATE_READY and record.expires_at is not None:
            left = record.expires_at - self._clock()
            if left <= timedelta(seconds=1):
                status.state = ExportState.EXPORT_STATE_FAILED
                status.error = EXPIRED
                return status
            status.download_url = self._bucket.download_url(record.object_key, left)
            status.expires_at.CopyFrom(to_timestamp(record.expires_at))
            status.parts.extend(record.parts)
        return status

    # --- building --------------------------------------------------------------------------

    def _start(self, record: ExportRecord) -> None:
        task = asyncio.create_task(self._build(record), name=f"export-{record.export_id}")
        self._building[record.export_id] = task
        task.add_done_callback(lambda _: self._building.pop(record.export_id, None))

    async def _beating(self, record: ExportRecord) -> None:
        while True:
            await asyncio.sleep(self._stale_after.total_seconds() / 5)
            await self._store.beat(record, self._clock())

    async def _build(self, record: ExportRecord) -> None:
        # beating while waiting for a slot too: a queued export is not a stalled one
        beating = asyncio.create_task(self._beating(record))
        try:
            async with self._slots:
                await self._build_now(record)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._failed(record, INTERRUPTED))
            raise
        except Exception as err:
            log.warning(
                "export failed",
                extra={"export_id": record.export_id, "error": type(err).__name__},
            )
            await self._failed(record, _error_text(err))
        finally:
            beating.cancel()

    async def _failed(self, record: ExportRecord, error: str) -> None:
        if await self._store.fail(record, error, self._clock()):
            EXPORTS.labels("failed").inc()
        await self._store.forget_running(record.export_id)

    async def _build_now(self, record: ExportRecord) -> None:
        started = self._clock()
        device_ids = sorted(self._owned_devices(record.account_id))
        await self._store.add_subjects(record, device_ids, started)
        key = archive_key(record.export_id)
        with tempfile.TemporaryFile(prefix="trackstream-export-") as file:
            writer = ArchiveWriter(file, created_at=started)
            try:
                counts = await build_archive(
                    data=self._data,
                    writer=writer,
                    account_id=record.account_id,
                    device_ids=device_ids,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    writer.discard()
                raise
            manifest = await asyncio.to_thread(
                writer.close,
                export_id=record.export_id,
                account_id=record.account_id,
                generated_at=self._clock(),
            )
            size = file.tell()
            expires_at = self._clock() + self._url_ttl  # before the upload: the sweep's
            upload = asyncio.ensure_future(self._bucket.upload(key, file, size))  # cut-off is
            try:  # after it
                await asyncio.shield(upload)
            except asyncio.CancelledError:  # erased: the upload thread runs on; undo it
                with contextlib.suppress(Exception):
                    await upload
                    await self._bucket.delete(key)
                raise
        parts = [_part_message(p) for p in [*writer.parts, manifest]]
        done = await self._store.complete(
            record, object_key=key, parts=parts, expires_at=expires_at, now=self._clock()
        )
        await self._store.forget_running(record.export_id)
        if not done:  # erased (or failed as stale) while it was built: nothing may stay
            await self._bucket.delete(key)
            for subject_id in [record.account_id, *device_ids]:
                if record.export_id in await self._store.exports_of(subject_id):
                    await self._store.delete_subject(subject_id)
            log.info("export dropped after its build", extra={"export_id": record.export_id})
            return
        EXPORTS.labels("ready").inc()
        elapsed = (self._clock() - started).total_seconds()
        log.info(
            "export ready",
            extra={
                "export_id": record.export_id,
                "devices": counts.devices,
                "positions": counts.positions,
                "alarms": counts.alarms,
                "media": counts.media,
                "archive_bytes": size,
                "seconds": round(elapsed, 3),
            },
        )

    async def drain(self) -> None:
        """Stop building (the exports left RUNNING are failed as interrupted)."""
        tasks = list(self._building.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the sweep -------------------------------------------------------------------------

    async def sweep(self) -> None:
        now = self._clock()
        for export_id in await self._store.running():
            if export_id in self._building:
                continue
            record = await self._store.get(export_id)
            if record is None or record.state != ExportState.EXPORT_STATE_RUNNING:
                await self._store.forget_running(export_id)
                continue
            beat = record.heartbeat_at or record.requested_at
            if now - beat > self._stale_after:
                log.warning("export interrupted", extra={"export_id": export_id})
                await self._failed(record, INTERRUPTED)
        for key in await self._bucket.older_than(now - self._url_ttl):
            if await self._bucket.delete(key):
                EXPORTS.labels("expired").inc()
                log.info("export archive expired", extra={"object_key": key})

    # --- erasure ---------------------------------------------------------------------------

    async def erase(self, order: ErasureOrdered) -> list[StoreErased]:
        """Every export naming one of the order's accounts or devices: its build stopped, its
        archive and its rows deleted. Idempotent."""
        subjects = [*order.account_ids, *order.device_ids]
        export_ids = sorted({e for s in subjects for e in await self._store.exports_of(s)})
        for export_id in export_ids:
            building = self._building.get(export_id)
            if building is not None:
                building.cancel()
                await asyncio.gather(building, return_exceptions=True)
        objects = rows = 0
        for export_id in export_ids:
            objects += int(await self._bucket.delete(archive_key(export_id)))
            rows += await self._store.delete_export(export_id)
        index_rows = 0
        for subject_id in subjects:
            index_rows += await self._store.delete_subject(subject_id)
        if export_ids:
            EXPORTS.labels("erased").inc(len(export_ids))
        now = self._clock()
        return [
            cassandra_rows_erased("privacy_exports", rows, gc_grace_s=GC_GRACE_S),
            cassandra_rows_erased("privacy_running_exports", rows, gc_grace_s=GC_GRACE_S),
            cassandra_rows_erased("privacy_exports_by_subject", index_rows, gc_grace_s=GC_GRACE_S),
            StoreErased(
                store=f"s3:{self._bucket.bucket}",
                mechanism="object-delete",
                deleted=objects,
                physically_gone_by=to_timestamp(now),
            ),
        ]


def _part_message(part: Part) -> ExportPart:
    return ExportPart(
        path=part.path, records=part.records, size_bytes=part.size_bytes, sha256=part.sha256
    )
