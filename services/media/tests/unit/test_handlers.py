from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from media.domain.jimi import JimiUpload
from media.handlers import COMMANDS, STORED_TOPIC, UnknownDevice
from services.media.tests.unit.conftest import BUCKET, Harness, accounts_with_media_days
from trackstream.media.v1 import media_pb2
from trackstream.tracking.v1 import command_pb2
from trackstream.tracking.v1.media_pb2 import MEDIA_TYPE_IMAGE, MediaUploaded
from trackstream_events.retention import AccountRetentionPolicy, DataKind
from trackstream_events.timestamps import to_timestamp
from trackstream_servicekit.retention_sweep import sweep_devices

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
PICTURE = b"\xff\xd8" + bytes(range(256)) * 100 + b"\xff\xd9"


def uploaded(
    h: Harness,
    data: bytes,
    *,
    key: str = "dev-1/2026/11/29/7-abc.jpg",
    stored: bytes | None = None,
    media_id: int = 7,
) -> MediaUploaded:
    if stored is not None:
        h.store.objects[(BUCKET, key)] = [stored]
    return MediaUploaded(
        device_id="dev-1",
        media_id=media_id,
        media_type=MEDIA_TYPE_IMAGE,
        content_type="image/jpeg",
        bucket=BUCKET,
        object_key=key,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        received_time=to_timestamp(NOW),
    )


async def test_a_verified_jt808_object_is_catalogued_and_announced(harness: Harness) -> None:
    harness.devices.register("13900000001", "dev-1", "acct-1")
    record = await harness.app.on_media_uploaded(uploaded(harness, PICTURE, stored=PICTURE))
    assert record is not None
    stored = await harness.catalogue.get(record.media_id)
    assert stored is not None and stored.account_id == "acct-1"
    assert stored.sha256 == hashlib.sha256(PICTURE).hexdigest()
    [event] = harness.publisher.published
    assert event.topic == STORED_TOPIC and event.key == "dev-1"
    assert isinstance(event.message, media_pb2.MediaStored)
    assert event.message.object.media_id == record.media_id


async def test_a_missing_or_partial_object_never_enters_the_catalogue(harness: Harness) -> None:
    assert await harness.app.on_media_uploaded(uploaded(harness, PICTURE)) is None
    partial = uploaded(harness, PICTURE, key="dev-1/p.jpg", stored=PICTURE[: len(PICTURE) // 2])
    assert await harness.app.on_media_uploaded(partial) is None
    tampered = PICTURE[:-1] + b"\x00"
    assert (
        await harness.app.on_media_uploaded(
            uploaded(harness, PICTURE, key="dev-1/t.jpg", stored=tampered)
        )
        is None
    )
    assert harness.catalogue.records == {}
    assert harness.publisher.published == []


async def test_a_redelivered_event_keeps_one_row(harness: Harness) -> None:
    event = uploaded(harness, PICTURE, stored=PICTURE)
    first = await harness.app.on_media_uploaded(event)
    second = await harness.app.on_media_uploaded(event)
    assert first is not None and second is not None and first.media_id == second.media_id
    assert len(harness.catalogue.records) == 1


async def test_capture_request_links_the_upload_that_answers_it(harness: Harness) -> None:
    command_id = await harness.app.request_capture(
        "dev-1", channel=2, requested_by="acct-1", now=NOW
    )
    [command] = harness.publisher.published
    assert command.topic == COMMANDS and command.key == "dev-1"
    assert isinstance(command.message, command_pb2.CommandRequested)
    assert command.message.kind == command_pb2.COMMAND_KIND_TAKE_PHOTO
    assert dict(command.message.parameters) == {"channel": "2", "count": "1"}
    await harness.app.on_command_result(
        command_pb2.CommandResult(
            command_id=command_id,
            device_id="dev-1",
            status=command_pb2.COMMAND_STATUS_REPLIED,
            reply_text="result 0; media 41",
        )
    )
    record = await harness.app.on_media_uploaded(
        uploaded(harness, PICTURE, stored=PICTURE, media_id=41)
    )
    assert record is not None and record.command_id == command_id
    other = await harness.app.on_media_uploaded(
        uploaded(harness, PICTURE, key="dev-1/o.jpg", stored=PICTURE, media_id=42)
    )
    assert other is not None and other.command_id == ""


async def test_http_upload_of_a_registered_device_is_stored_under_a_pseudonymous_key(
    harness: Harness,
) -> None:
    harness.devices.register("860000000000001", "dev-9", "acct-2")
    record = await harness.app.accept_upload(
        JimiUpload(
            imei="860000000000001", content_type="image/jpeg", data=PICTURE, filename="a.jpg"
        ),
        now=NOW,
    )
    assert "860000000000001" not in record.object_key
    assert record.object_key.startswith("dev-9/2026/11/29/")
    assert harness.store.objects[(BUCKET, record.object_key)] == [PICTURE]
    assert (await harness.catalogue.get(record.media_id)) == record


async def test_http_upload_of_an_unknown_device_stores_nothing(harness: Harness) -> None:
    upload = JimiUpload(
        imei="860000000000009", content_type="image/jpeg", data=PICTURE, filename="a.jpg"
    )
    try:
        await harness.app.accept_upload(upload, now=NOW)
    except UnknownDevice:
        pass
    else:
        raise AssertionError("an unknown device was accepted")
    assert harness.store.objects == {} and harness.catalogue.records == {}


async def test_urls_and_deletes_only_for_the_owning_device(harness: Harness) -> None:
    record = await harness.app.on_media_uploaded(uploaded(harness, PICTURE, stored=PICTURE))
    assert record is not None
    assert await harness.app.download_url("dev-other", record.media_id) is None
    found = await harness.app.download_url("dev-1", record.media_id)
    assert found is not None and record.object_key in found[1]
    assert await harness.app.delete("dev-other", record.media_id) is False
    assert await harness.app.delete("dev-1", record.media_id) is True
    assert await harness.app.delete("dev-1", record.media_id) is False
    assert harness.store.objects == {}


async def test_erase_device_removes_every_version_and_row_and_is_idempotent(
    harness: Harness,
) -> None:
    await harness.app.on_media_uploaded(uploaded(harness, PICTURE, stored=PICTURE))
    harness.store.objects[(BUCKET, "dev-1/2026/11/29/7-abc.jpg")].append(b"older version")
    harness.store.objects[(BUCKET, "dev-2/x.jpg")] = [b"kept"]
    assert await harness.app.erase_device("dev-1") == (2, 1)
    assert list(harness.store.objects) == [(BUCKET, "dev-2/x.jpg")]
    assert harness.catalogue.records == {}
    assert await harness.app.erase_device("dev-1") == (0, 0)


async def test_retention_per_account_sweeps_expired_objects_and_rows() -> None:
    accounts = accounts_with_media_days({"acct-short": 3})
    h = Harness(AccountRetentionPolicy(DataKind.MEDIA, 0, lookup=accounts.get))
    h.devices.register("1", "dev-1", "acct-short")
    h.devices.register("2", "dev-2", "acct-forever")
    short = await h.app.on_media_uploaded(uploaded(h, PICTURE, stored=PICTURE))
    event = uploaded(h, PICTURE, key="dev-2/k.jpg", stored=PICTURE)
    event.device_id = "dev-2"
    kept = await h.app.on_media_uploaded(event)
    assert short is not None and kept is not None
    expiry = (NOW + timedelta(days=3)).date()
    assert await h.app.sweep(expiry - timedelta(days=1), since=date(2026, 11, 1)) == 0
    assert await h.app.sweep(expiry, since=date(2026, 11, 1)) == 1
    assert set(h.catalogue.records) == {kept.media_id}
    assert list(h.store.objects) == [(BUCKET, "dev-2/k.jpg")]


async def test_a_shortened_retention_reaches_media_already_stored() -> None:
    accounts = accounts_with_media_days({})
    h = Harness(AccountRetentionPolicy(DataKind.MEDIA, 0, lookup=accounts.get))
    h.devices.register("1", "dev-1", "acct-short")
    h.devices.register("2", "dev-2", "acct-other")
    old = await h.app.on_media_uploaded(uploaded(h, PICTURE, stored=PICTURE))
    event = uploaded(h, PICTURE, key="dev-2/k.jpg", stored=PICTURE)
    event.device_id = "dev-2"
    other = await h.app.on_media_uploaded(event)
    assert old is not None and other is not None
    assert h.catalogue.expiry == {}  # stored while kept until deleted: no expiry day
    # the account now keeps media 2 days: the round 3 days after capture deletes its medium,
    # not the other account's (which sets nothing: the platform keeps media)
    accounts |= accounts_with_media_days({"acct-short": 2})
    later = NOW + timedelta(days=3)
    owners = [("dev-1", "acct-short"), ("dev-2", "acct-other")]
    days, delete = h.app.retention.days, h.app.delete_older
    assert await sweep_devices(owners, days, delete, kind="media", now=later) == {"objects": 1}
    assert set(h.catalogue.records) == {other.media_id}
    assert list(h.store.objects) == [(BUCKET, "dev-2/k.jpg")]
    # a medium newer than the cut-off stays
    assert await h.app.delete_older("dev-2", NOW - timedelta(seconds=1)) == {}
    assert set(h.catalogue.records) == {other.media_id}


async def test_a_clip_capture_asks_0x8801_to_record_for_its_duration(harness: Harness) -> None:
    await harness.app.request_capture("dev-1", channel=1, requested_by="acct-1", now=NOW, clip_s=15)
    [command] = harness.publisher.published
    assert isinstance(command.message, command_pb2.CommandRequested)
    assert command.message.kind == command_pb2.COMMAND_KIND_TAKE_PHOTO
    # ingest sends 0x8801 with command word 0xFFFF (record) and this recording time
    assert dict(command.message.parameters) == {
        "channel": "1",
        "count": "65535",
        "interval_s": "15",
    }


@pytest.mark.parametrize("clip_s", [-1, 61])
async def test_a_clip_length_out_of_range_is_refused(harness: Harness, clip_s: int) -> None:
    with pytest.raises(ValueError, match="a clip lasts 1 to 60 s"):
        await harness.app.request_capture(
            "dev-1", channel=1, requested_by="acct-1", now=NOW, clip_s=clip_s
        )
    assert harness.publisher.published == []
