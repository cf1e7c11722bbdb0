"""Linking media to the alarm that triggered them (media.domain.linking), in both arrival
orders, through the handlers with the in-memory catalogue."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from media.domain.jimi import JimiUpload
from media.domain.model import MediaRecord
from services.media.tests.unit.conftest import BUCKET, Harness
from trackstream.alarm.v1 import alarm_pb2
from trackstream.media.v1 import media_pb2
from trackstream.tracking.v1 import fix_pb2
from trackstream.tracking.v1.media_pb2 import MEDIA_TYPE_IMAGE, MediaUploaded
from trackstream_events.timestamps import to_timestamp

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
PICTURE = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"
SOS = alarm_pb2.ALARM_TYPE_SOS
COLLISION = alarm_pb2.ALARM_TYPE_COLLISION


def alarm(
    alarm_id: str,
    at: datetime,
    kind: int = SOS,
    *,
    device_id: str = "dev-1",
    origin: int = alarm_pb2.ALARM_ORIGIN_DEVICE,
) -> alarm_pb2.AlarmRaised:
    return alarm_pb2.AlarmRaised(
        alarm_id=alarm_id,
        device_id=device_id,
        type=kind,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        alarm_time=to_timestamp(at),
    )


async def jt808_picture(
    h: Harness, captured: datetime, event_code: int, *, media_id: int = 7, device_id: str = "dev-1"
) -> MediaRecord:
    key = f"{device_id}/2026/11/29/{media_id}-{event_code}.jpg"
    h.store.objects[(BUCKET, key)] = [PICTURE]
    record = await h.app.on_media_uploaded(
        MediaUploaded(
            device_id=device_id,
            media_id=media_id,
            media_type=MEDIA_TYPE_IMAGE,
            content_type="image/jpeg",
            bucket=BUCKET,
            object_key=key,
            size_bytes=len(PICTURE),
            sha256=hashlib.sha256(PICTURE).hexdigest(),
            event_code=event_code,
            received_time=to_timestamp(captured + timedelta(minutes=5)),
            fix=fix_pb2.Fix(fix_time=to_timestamp(captured), latitude=48.5, longitude=7.7),
        )
    )
    assert record is not None
    return record


async def linked_to(h: Harness, media_id: str) -> str:
    record = await h.catalogue.get(media_id)
    assert record is not None
    return record.alarm_id


async def test_media_after_its_alarm_links_at_once(harness: Harness) -> None:
    await harness.app.on_alarm_raised(alarm("a-sos", T0), now=T0)
    record = await jt808_picture(harness, T0 + timedelta(seconds=3), event_code=2)
    assert record.alarm_id == "a-sos"
    listed, _ = await harness.catalogue.list_by_alarm("a-sos", 10, None)
    assert [r.media_id for r in listed] == [record.media_id]
    # the announced object carries the alarm too
    stored = harness.publisher.published[-1].message
    assert isinstance(stored, media_pb2.MediaStored) and stored.object.alarm_id == "a-sos"


async def test_an_alarm_after_its_media_links_them(harness: Harness) -> None:
    record = await jt808_picture(harness, T0 - timedelta(seconds=2), event_code=3)
    assert record.alarm_id == ""
    linked = await harness.app.on_alarm_raised(alarm("a-crash", T0, COLLISION), now=T0)
    assert linked == [record.media_id]
    assert await linked_to(harness, record.media_id) == "a-crash"
    # a redelivered alarm changes nothing
    assert await harness.app.on_alarm_raised(alarm("a-crash", T0, COLLISION), now=T0) == [
        record.media_id
    ]
    assert await linked_to(harness, record.media_id) == "a-crash"


@pytest.mark.parametrize("media_first", [True, False])
async def test_the_nearest_matching_alarm_wins_in_either_order(
    harness: Harness, media_first: bool
) -> None:
    """Two SOS alarms 20 s apart and a collision between them: the emergency picture taken
    4 s after the second SOS belongs to that one, whatever arrives first."""
    alarms = [
        alarm("a-early", T0),
        alarm("a-crash", T0 + timedelta(seconds=12), COLLISION),
        alarm("a-late", T0 + timedelta(seconds=20)),
    ]
    captured = T0 + timedelta(seconds=24)
    if media_first:
        record = await jt808_picture(harness, captured, event_code=2)
        for a in alarms:
            await harness.app.on_alarm_raised(a, now=T0)
    else:
        for a in alarms:
            await harness.app.on_alarm_raised(a, now=T0)
        record = await jt808_picture(harness, captured, event_code=2)
    assert await linked_to(harness, record.media_id) == "a-late"


async def test_no_link_across_devices_kinds_or_outside_the_window(harness: Harness) -> None:
    await harness.app.on_alarm_raised(alarm("a-sos", T0), now=T0)
    await harness.app.on_alarm_raised(alarm("b-sos", T0, device_id="dev-2"), now=T0)
    wrong_kind = await jt808_picture(harness, T0, event_code=3, media_id=1)  # collision pic
    too_late = await jt808_picture(harness, T0 + timedelta(seconds=31), event_code=2, media_id=2)
    timer = await jt808_picture(harness, T0, event_code=1, media_id=3)  # timed picture
    platform = await jt808_picture(harness, T0, event_code=0, media_id=4)  # platform order
    for record in (wrong_kind, too_late, timer, platform):
        assert record.alarm_id == "", record
    just_in = await jt808_picture(harness, T0 + timedelta(seconds=30), event_code=2, media_id=5)
    assert just_in.alarm_id == "a-sos"


async def test_a_capture_answer_never_links(harness: Harness) -> None:
    harness.devices.register("860000000000009", "dev-1", "acct-1")
    await harness.app.on_alarm_raised(alarm("a-sos", T0), now=T0)
    captured = await harness.app.accept_upload(
        JimiUpload(
            imei="860000000000009",
            content_type="image/jpeg",
            data=PICTURE,
            filename="c.jpg",
            alarm_time=T0,
            event_type="1",
            instruction_id="capture-1",
        ),
        now=T0,
    )
    assert captured.alarm_id == ""


async def test_jimi_alarm_uploads_link_to_device_alarms_only(harness: Harness) -> None:
    harness.devices.register("860000000000009", "dev-1", "acct-1")
    await harness.app.on_alarm_raised(
        alarm("a-rule", T0, alarm_pb2.ALARM_TYPE_OVERSPEED, origin=alarm_pb2.ALARM_ORIGIN_PLATFORM),
        now=T0,
    )

    async def upload(name: str, event_type: str, at: datetime) -> MediaRecord:
        return await harness.app.accept_upload(
            JimiUpload(
                imei="860000000000009",
                content_type="image/jpeg",
                data=PICTURE + name.encode(),
                filename=name,
                alarm_time=at,
                event_type=event_type,
            ),
            now=at,
        )

    assert (await upload("a.jpg", "12", T0)).alarm_id == ""  # a platform rule's alarm
    await harness.app.on_alarm_raised(
        alarm("a-vib", T0 + timedelta(seconds=5), alarm_pb2.ALARM_TYPE_VIBRATION), now=T0
    )
    assert (await upload("b.jpg", "12", T0 + timedelta(seconds=6))).alarm_id == "a-vib"
    assert (await upload("c.jpg", "", T0 + timedelta(seconds=6))).alarm_id == ""  # no event


async def test_erasing_a_device_forgets_its_waiting_alarms(harness: Harness) -> None:
    await harness.app.on_alarm_raised(alarm("a-sos", T0), now=T0)
    await harness.app.erase_device("dev-1")
    record = await jt808_picture(harness, T0, event_code=2)
    assert record.alarm_id == ""


async def test_a_replayed_alarm_older_than_a_day_is_not_remembered(harness: Harness) -> None:
    old = alarm("a-old", T0 - timedelta(days=1, seconds=1))
    assert await harness.app.on_alarm_raised(old, now=T0) == []
    assert harness.catalogue.alarms == {}
