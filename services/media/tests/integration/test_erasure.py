"""Media's erasure on the real Cassandra and S3: every object version and catalogue row of a
device goes (expiry entries and capture requests included), another device's stay, every
planned store is acknowledged, a second run deletes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from media.bootstrap import MediaService, bootstrap
from media.config import MediaSettings
from media.domain.model import MediaKind, MediaRecord, Source, media_id_of
from media.erasure import PARTICIPANT
from privacy.domain.plan import PARTICIPANT_STORES
from services.media.tests.integration.test_media_flow import PICTURE, objects_under
from tests.integration.helpers import apply_erasure, deleted_counts, erasure_order
from trackstream.privacy.v1.erasure_pb2 import SubjectKind

#: exactly what the privacy service expects media to acknowledge
PLAN = set(PARTICIPANT_STORES["media"])


@pytest.fixture
async def media() -> AsyncIterator[MediaService]:
    service = bootstrap(MediaSettings(consumer_group=f"media-test-{uuid.uuid4().hex[:8]}"))
    yield service
    service.cassandra.close()


async def _seed(service: MediaService, device_id: str) -> list[MediaRecord]:
    """Two pictures (one of an alarm, one expiring), and a capture request."""
    app = service.app
    records = []
    captured = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for n in range(2):
        key = f"{device_id}/{captured:%Y/%m/%d}/test-{n}.jpg"
        await app.store.put(key, PICTURE + bytes([n]), "image/jpeg")
        await app.store.put(key, PICTURE + bytes([n, n]), "image/jpeg")  # overwritten
        record = MediaRecord(
            media_id=media_id_of(app.store.bucket, key),
            device_id=device_id,
            captured_time=captured + timedelta(seconds=n),
            media_type=MediaKind.IMAGE,
            content_type="image/jpeg",
            size_bytes=len(PICTURE) + 2,
            sha256="0" * 64,
            bucket=app.store.bucket,
            object_key=key,
            source=Source(1),
            alarm_id=f"alarm-{device_id}" if n == 0 else "",
            account_id="acct-media-erasure",
        )
        expires = (captured + timedelta(days=30)).date() if n == 1 else None
        await app.catalogue.add(record, expires)
        records.append(record)
    await app.catalogue.remember_capture(device_id, 7, f"capture-{device_id}")
    await service.cassandra.execute(  # an alarm waiting for its media
        "INSERT INTO media_alarm_candidates (device_id, alarm_time, alarm_id, alarm_type, origin) "
        "VALUES (?, ?, ?, 1, 1) USING TTL 86400",
        (device_id, captured, f"alarm-{device_id}"),
    )
    return records


async def _held(service: MediaService, device_id: str, records: list[MediaRecord]) -> int:
    app, db = service.app, service.cassandra
    expires = (records[1].captured_time + timedelta(days=30)).date()
    found = len(objects_under(f"{device_id}/"))
    found += len(await app.catalogue.all_of_device(device_id))
    for r in records:
        found += await app.catalogue.get(r.media_id) is not None
    found += len((await app.catalogue.list_by_alarm(f"alarm-{device_id}", 10, None))[0])
    found += sum(
        1 for mid, _ in await app.catalogue.expiring(expires) if mid == records[1].media_id
    )
    found += await app.catalogue.capture_of(device_id, 7) is not None
    found += len(
        await db.execute(
            "SELECT alarm_id FROM media_alarm_candidates WHERE device_id = ?", (device_id,)
        )
    )
    rows = await db.execute(
        "SELECT media_id FROM media_by_alarm WHERE alarm_id = ?", (f"alarm-{device_id}",)
    )
    return found + len(rows)


async def test_a_devices_media_are_erased_and_another_kept(media: MediaService) -> None:
    run = uuid.uuid4().hex[:8]
    erased, kept = f"dev-merase-{run}", f"dev-mkeep-{run}"
    erased_records = await _seed(media, erased)
    kept_records = await _seed(media, kept)
    # 2 objects, 2 by_device, 2 by_id, 1 by_alarm listed + 1 row, 1 expiry, 1 capture,
    # 1 alarm candidate
    assert await _held(media, erased, erased_records) == 11

    order = erasure_order(SubjectKind.SUBJECT_KIND_DEVICE, erased, device_ids=[erased])
    stores = await apply_erasure(PARTICIPANT, media.erasure.erase, order)

    assert set(stores) == PLAN
    assert deleted_counts(stores) == {
        "cassandra:media_by_device": 2,
        "cassandra:media_by_id": 2,
        "cassandra:media_by_alarm": 1,
        "cassandra:media_expiry_by_day": 1,
        "cassandra:media_capture_requests": 1,
        "cassandra:media_alarm_candidates": 1,
        "s3:trackstream-media": 2,
    }
    assert await _held(media, erased, erased_records) == 0
    assert await _held(media, kept, kept_records) == 11
    s3 = stores["s3:trackstream-media"]
    assert s3.mechanism == "object-versions"
    assert abs(s3.physically_gone_by.seconds - datetime.now(UTC).timestamp()) < 60
    assert stores["cassandra:media_by_id"].physically_gone_by.seconds > (
        datetime.now(UTC).timestamp() + 259_200 - 120
    )

    again = await apply_erasure(PARTICIPANT, media.erasure.erase, order)
    assert set(again) == PLAN
    assert set(deleted_counts(again).values()) == {0}
