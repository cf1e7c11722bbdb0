"""The media application: events and requests in, catalogue rows, objects and events out.

Nothing here does I/O itself; the ports (``media.ports``) are injected by ``bootstrap``."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from media.domain.capture import capture_command, media_ids_in_reply
from media.domain.jimi import JimiUpload
from media.domain.linking import (
    CANDIDATE_TTL,
    DEFAULT_WINDOW,
    best_alarm,
    candidate_of,
    may_link,
)
from media.domain.model import (
    MediaKind,
    MediaRecord,
    Source,
    kind_of,
    media_id_of,
    upload_object_key,
)
from media.domain.retention import expires_day
from media.domain.verify import mismatch
from media.metrics import ALARM_LINKS, DELETED, STORED_BYTES, UPLOADS
from media.ports import Catalogue, Devices, ObjectStore, Publisher
from trackstream.alarm.v1.alarm_pb2 import AlarmRaised
from trackstream.media.v1 import media_pb2
from trackstream.tracking.v1.command_pb2 import CommandResult
from trackstream.tracking.v1.media_pb2 import MediaUploaded
from trackstream_events.retention import AccountRetentionPolicy
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka import ConsumedEvent

log = logging.getLogger(__name__)

MEDIA_TOPIC = "tracking.media.v1"
COMMAND_RESULTS = "tracking.command-results.v1"
COMMANDS = "tracking.commands.v1"
STORED_TOPIC = "media.objects.v1"
ALARMS_TOPIC = "alarm.alarms.v1"
#: an alarm listing of one device's media around an alarm reads at most this many rows
_LINK_SCAN = 1000
#: media a retention sweep reads of a device at once
_SWEEP_PAGE = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UnknownDevice(Exception):
    """The upload's identifier does not resolve to a registered, enabled device."""


def media_object(record: MediaRecord) -> media_pb2.MediaObject:
    return media_pb2.MediaObject(
        media_id=record.media_id,
        device_id=record.device_id,
        captured_time=to_timestamp(record.captured_time),
        media_type=int(record.media_type),  # type: ignore[arg-type]
        content_type=record.content_type,
        size_bytes=record.size_bytes,
        sha256=record.sha256,
        bucket=record.bucket,
        object_key=record.object_key,
        alarm_id=record.alarm_id,
        command_id=record.command_id,
        source=int(record.source),  # type: ignore[arg-type]
        event_code=record.event_code,
        channel=record.channel,
        account_id=record.account_id,
    )


@dataclass
class MediaApp:
    store: ObjectStore
    catalogue: Catalogue
    publisher: Publisher
    devices: Devices
    #: the media retention of each account (0 days: kept until deleted or erased)
    retention: AccountRetentionPolicy
    download_url_ttl_s: int = 300
    #: media captured this close to an alarm of the device (and of a matching kind) link to it
    alarm_link_window: timedelta = DEFAULT_WINDOW

    # -- arriving media ---------------------------------------------------------------------

    async def handle(self, consumed: ConsumedEvent) -> None:
        """The Kafka entry point: one record of tracking.media.v1 or command results."""
        message = consumed.message
        if isinstance(message, MediaUploaded):
            await self.on_media_uploaded(message)
        elif isinstance(message, CommandResult):
            await self.on_command_result(message)
        elif isinstance(message, AlarmRaised):
            await self.on_alarm_raised(message, now=datetime.now(UTC))

    async def on_alarm_raised(self, alarm: AlarmRaised, *, now: datetime) -> list[str]:
        """Remember the alarm for media still to come, and link the media already here that
        it is the nearest matching alarm of (media.domain.linking). Returns the ids of the
        media linked to it. Idempotent: a redelivered alarm links nothing new."""
        candidate = candidate_of(alarm, fallback_time=now)
        if not candidate.device_id or not candidate.alarm_id:
            return []
        if candidate.alarm_time < now - CANDIDATE_TTL:
            return []  # older than any media still waits for (a replayed backlog)
        await self.catalogue.remember_alarm(candidate, now)
        window = self.alarm_link_window
        nearby, _ = await self.catalogue.list_by_device(
            candidate.device_id,
            candidate.alarm_time - window,
            candidate.alarm_time + window + timedelta(microseconds=1),
            _LINK_SCAN,
            None,
        )
        linked: list[str] = []
        for record in nearby:
            if not may_link(record):
                continue
            alarms = await self.catalogue.alarms_near(
                record.device_id, record.captured_time - window, record.captured_time + window
            )
            best = best_alarm(record, [*alarms, candidate], window)
            if best is not None and best.alarm_id == candidate.alarm_id:
                if record.alarm_id != candidate.alarm_id:
                    await self.catalogue.link_alarm(record, candidate.alarm_id)
                    ALARM_LINKS.labels("alarm_after_media").inc()
                linked.append(record.media_id)
        return linked

    async def _alarm_of(self, record: MediaRecord) -> str:
        """The alarm an arriving record links to ("" for none)."""
        if not may_link(record):
            return ""
        already = await self.catalogue.get(record.media_id)  # a redelivery keeps its link
        if already is not None and already.alarm_id:
            return already.alarm_id
        window = self.alarm_link_window
        alarms = await self.catalogue.alarms_near(
            record.device_id, record.captured_time - window, record.captured_time + window
        )
        best = best_alarm(record, alarms, window)
        if best is None:
            return ""
        ALARM_LINKS.labels("media_after_alarm").inc()
        return best.alarm_id

    async def on_command_result(self, result: CommandResult) -> None:
        """A capture's 0x0805 answer names the device media ids it took: remember them so the
        uploads that follow link to the request."""
        if not result.command_id.startswith("capture-"):
            return
        for device_media_id in media_ids_in_reply(result.reply_text):
            await self.catalogue.remember_capture(
                result.device_id, device_media_id, result.command_id
            )

    async def on_media_uploaded(self, event: MediaUploaded) -> MediaRecord | None:
        """Verify the object ingest stored, then catalogue and announce it. A missing or
        partial object is logged and never catalogued."""
        stored = await self.store.facts(event.bucket, event.object_key)
        reason = mismatch(
            expected_size=event.size_bytes, expected_sha256=event.sha256, stored=stored
        )
        if reason is not None:
            UPLOADS.labels("jt808", "mismatch").inc()
            log.warning(
                "media not catalogued",
                extra={"device_id": event.device_id, "media_id": event.media_id, "reason": reason},
            )
            return None
        captured = (
            event.fix.fix_time.ToDatetime(tzinfo=UTC)
            if event.HasField("fix") and event.fix.HasField("fix_time")
            else event.received_time.ToDatetime(tzinfo=UTC)
        )
        command_id = await self.catalogue.capture_of(event.device_id, event.media_id) or ""
        record = MediaRecord(
            media_id=media_id_of(event.bucket, event.object_key),
            device_id=event.device_id,
            captured_time=captured,
            media_type=MediaKind(event.media_type)
            if event.media_type in (1, 2, 3)
            else kind_of(event.content_type),
            content_type=event.content_type,
            size_bytes=event.size_bytes,
            sha256=event.sha256.lower(),
            bucket=event.bucket,
            object_key=event.object_key,
            source=Source.JT808,
            command_id=command_id,
            event_code=str(event.event_code),
            channel=event.channel,
        )
        return await self._catalogue(record)

    async def accept_upload(self, upload: JimiUpload, *, now: datetime) -> MediaRecord:
        """A Jimi HTTP upload: resolve the device, store the bytes, catalogue, announce."""
        device_id = self.devices.device_of(upload.imei)
        if device_id is None:
            UPLOADS.labels("jimi_http", "unknown_device").inc()
            raise UnknownDevice("unknown device")
        # the key carries the content's hash: hashing and storing happen in one worker-thread
        # trip, off the event loop (megabytes of a clip)
        sha256, key = await self.store.put_named_by_hash(
            upload.data,
            upload.content_type,
            lambda digest: upload_object_key(device_id, now, digest, upload.content_type),
        )
        record = MediaRecord(
            media_id=media_id_of(self.store.bucket, key),
            device_id=device_id,
            captured_time=upload.alarm_time or now,
            media_type=kind_of(upload.content_type),
            content_type=upload.content_type,
            size_bytes=len(upload.data),
            sha256=sha256,
            bucket=self.store.bucket,
            object_key=key,
            source=Source.JIMI_HTTP,
            command_id=upload.instruction_id,
            event_code=upload.event_type,
        )
        return await self._catalogue(record)

    async def _catalogue(self, record: MediaRecord) -> MediaRecord:
        account = self.devices.account_of(record.device_id) or ""
        record = replace(record, account_id=account, alarm_id=await self._alarm_of(record))
        stored = media_pb2.MediaStored(
            device_id=record.device_id,
            object=media_object(record),
            stored_time=to_timestamp(datetime.now(UTC)),
        )
        # the rows and the announcement together (two round trips in parallel, not in turn):
        # if either fails the upload fails and the device sends it again, to the same key and
        # media id, so a MediaStored without rows is followed by the rows
        await asyncio.gather(
            self.catalogue.add(
                record, expires_day(self.retention.days(account), record.captured_time)
            ),
            self.publisher.publish(STORED_TOPIC, stored, key=record.device_id),
        )
        source = "jt808" if record.source is Source.JT808 else "jimi_http"
        UPLOADS.labels(source, "stored").inc()
        STORED_BYTES.labels(source).inc(record.size_bytes)
        return record

    # -- requests ---------------------------------------------------------------------------

    async def owned(self, device_id: str, media_id: str) -> MediaRecord | None:
        """The record, only when it belongs to ``device_id``."""
        record = await self.catalogue.get(media_id)
        if record is None or record.device_id != device_id:
            return None
        return record

    async def download_url(self, device_id: str, media_id: str) -> tuple[MediaRecord, str] | None:
        record = await self.owned(device_id, media_id)
        if record is None:
            return None
        url = self.store.presigned_get(record.bucket, record.object_key, self.download_url_ttl_s)
        return record, url

    async def delete(self, device_id: str, media_id: str) -> bool:
        record = await self.owned(device_id, media_id)
        if record is None:
            return False
        await self.store.delete(record.bucket, record.object_key)
        await self.catalogue.remove(record)
        DELETED.labels("deleted").inc()
        return True

    async def request_capture(
        self,
        device_id: str,
        *,
        channel: int,
        requested_by: str,
        now: datetime,
        clip_s: int | None = None,
    ) -> str:
        """A photo, or a clip of ``clip_s`` seconds; returns the command id the upload will
        carry. ValueError for a clip length out of range."""
        command_id = f"capture-{uuid.uuid4()}"
        command = capture_command(
            command_id=command_id,
            device_id=device_id,
            channel=channel,
            requested_by=requested_by,
            now=now,
            clip_s=clip_s,
        )
        await self.publisher.publish(COMMANDS, command, key=device_id)
        return command_id

    async def erase_device(self, device_id: str) -> tuple[int, int]:
        """Every object version under the device's prefix, then every catalogue row.
        Idempotent: a second run finds nothing and deletes nothing."""
        objects = await self.store.delete_prefix(self.store.bucket, f"{device_id}/")
        await self.catalogue.forget_alarms(device_id)
        rows = 0
        for record in await self.catalogue.all_of_device(device_id):
            if record.bucket != self.store.bucket:
                objects += await self.store.delete_prefix(record.bucket, record.object_key)
            await self.catalogue.remove(record)
            rows += 1
        DELETED.labels("erased").inc(objects)
        return objects, rows

    async def delete_older(self, device_id: str, older_than: datetime) -> dict[str, int]:
        """Every medium of the device captured before ``older_than`` (a retention that was
        shortened after they were stored, with a later expiry day or none), read from the
        device's partition of media_by_device: each object, then its rows. Their expiry
        entries find no row when their day comes, and are dropped."""
        deleted = 0
        while True:
            records, _ = await self.catalogue.list_by_device(
                device_id, _EPOCH, older_than, _SWEEP_PAGE, None
            )
            for record in records:
                await self.store.delete(record.bucket, record.object_key)
                await self.catalogue.remove(record)
                DELETED.labels("expired").inc()
            deleted += len(records)
            if len(records) < _SWEEP_PAGE:
                return {"objects": deleted} if deleted else {}

    async def sweep(self, today: date, *, since: date) -> int:
        """Delete what expired on days in [since, today]; returns how many objects went."""
        deleted = 0
        day = since
        while day <= today:
            for media_id, _device in await self.catalogue.expiring(day):
                record = await self.catalogue.get(media_id)
                if record is not None:
                    await self.store.delete(record.bucket, record.object_key)
                    await self.catalogue.remove(record)
                    DELETED.labels("expired").inc()
                    deleted += 1
            await self.catalogue.forget_expiry_day(day)
            day = date.fromordinal(day.toordinal() + 1)
        return deleted
