"""The export archive: every part of an account's data, CSV and JSON that parse back to what
was given, a manifest whose counts and SHA-256 match the bytes (and catch an edited part), the
webhook secret never written, nothing of a device the account does not own, paths that cannot
climb out of the archive."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence

import pytest

from privacy.domain.archive import (
    MANIFEST,
    POSITION_COLUMNS,
    ArchiveError,
    ArchiveWriter,
    Part,
    media_file_name,
    part_path,
    verify_archive,
)
from privacy.export.builder import ExportCounts, build_archive
from privacy.export.source import AccountNotFound
from services.privacy.tests.unit.conftest import SECRET, T0, FakeData


async def _archive(
    data: FakeData, devices: Sequence[str] = ("dev-a1", "dev-a2", "dev-b1")
) -> tuple[io.BytesIO, ExportCounts, list[Part], Part]:
    file = io.BytesIO()
    writer = ArchiveWriter(file, created_at=T0)
    counts = await build_archive(data=data, writer=writer, account_id="acc-a", device_ids=devices)
    manifest = writer.close(export_id="e1", account_id="acc-a", generated_at=T0)
    file.seek(0)
    return file, counts, writer.parts, manifest


async def test_the_archive_holds_every_part_of_the_account_and_parses_back() -> None:
    file, counts, parts, manifest_part = await _archive(FakeData())
    with zipfile.ZipFile(file) as archive:
        names = set(archive.namelist())
        assert names == {
            "profile.json",
            "api_keys.json",
            "devices.json",
            "positions/dev-a1.csv",
            "positions/dev-a2.csv",
            "alarms.json",
            "alarms.csv",
            "media.json",
            "media/dev-a1/m1.jpg",
            "geofences.json",
            "rules.json",
            "subscriptions.json",
            "deliveries.json",
            "inbox.json",
            MANIFEST,
        }
        profile = json.loads(archive.read("profile.json"))
        assert profile["email"] == "anna@example.org"
        rows = list(csv.DictReader(io.StringIO(archive.read("positions/dev-a1.csv").decode())))
        assert [r["fix_time"] for r in rows[:2]] == [
            "2026-03-01T08:00:00Z",
            "2026-03-01T08:00:10Z",
        ]
        assert len(rows) == 25 and list(rows[0]) == list(POSITION_COLUMNS)
        assert rows[0]["address"] == "Unter den Linden, Berlin"
        assert rows[1]["ignition"] == "True" and rows[0]["ignition"] == ""
        assert float(rows[24]["latitude"]) == pytest.approx(52.5 + 24 / 1e5)
        alarms = json.loads(archive.read("alarms.json"))
        assert [a["alarm"]["alarm_id"] for a in alarms] == ["alarm-dev-a1", "alarm-dev-a2"]
        alarm_rows = list(csv.DictReader(io.StringIO(archive.read("alarms.csv").decode())))
        assert alarm_rows[0]["type"] == "ALARM_TYPE_SOS"
        assert json.loads(alarm_rows[0]["details"]) == {"speed_kmh": "42"}
        assert archive.read("media/dev-a1/m1.jpg").startswith(b"\xff\xd8\xff")
        assert archive.getinfo("media/dev-a1/m1.jpg").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("positions/dev-a1.csv").compress_type == zipfile.ZIP_DEFLATED
    assert (counts.devices, counts.positions, counts.alarms, counts.media) == (2, 50, 2, 1)
    assert manifest_part.path == MANIFEST and manifest_part.records == len(parts)


async def test_the_manifest_lists_every_part_with_its_count_size_and_sha256() -> None:
    file, _, parts, _ = await _archive(FakeData())
    with zipfile.ZipFile(file) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        assert manifest["export_id"] == "e1" and manifest["account_id"] == "acc-a"
        listed = {p["path"]: p for p in manifest["parts"]}
        assert set(listed) == set(archive.namelist()) - {MANIFEST}
        for name, entry in listed.items():
            data = archive.read(name)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest(), name
            assert entry["size_bytes"] == len(data), name
        assert listed["positions/dev-a2.csv"]["records"] == 25
        assert listed["alarms.json"]["records"] == 2
        assert listed["subscriptions.json"]["records"] == 1
    assert [p.path for p in parts] == [p["path"] for p in manifest["parts"]]
    file.seek(0)
    assert verify_archive(file) == []


async def test_an_edited_or_added_part_fails_verification() -> None:
    file, _, _, _ = await _archive(FakeData())
    original = zipfile.ZipFile(file)
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "devices.json":
                data = data.replace(b"dev-a2", b"dev-zz")
            copy.writestr(info.filename, data)
        copy.writestr("extra.txt", b"smuggled")
    edited.seek(0)
    problems = verify_archive(edited)
    assert "devices.json: SHA-256 differs from the manifest" in problems
    assert "extra.txt: not in the manifest" in problems


async def test_the_webhook_secret_is_never_written() -> None:
    file, _, _, _ = await _archive(FakeData())
    with zipfile.ZipFile(file) as archive:
        subscriptions = json.loads(archive.read("subscriptions.json"))
        assert subscriptions[0]["webhook_url"] == "https://hooks.example.org/in"
        assert "webhook_secret" not in subscriptions[0]
        every_byte = b"".join(archive.read(n) for n in archive.namelist())
    assert SECRET.encode() not in every_byte


async def test_a_device_of_another_account_is_left_out() -> None:
    file, counts, _, _ = await _archive(FakeData())
    with zipfile.ZipFile(file) as archive:
        every_byte = b"".join(archive.read(n) for n in archive.namelist())
    assert b"dev-b1" not in every_byte and b"Bob's van" not in every_byte
    assert b"acc-b" not in every_byte
    assert counts.devices == 2


async def test_positions_are_written_a_page_at_a_time() -> None:
    data = FakeData(positions=1000, page=100)
    _, counts, _, _ = await _archive(data, devices=["dev-a1"])
    assert counts.positions == 1000
    assert data.pages_read == 10  # consumed as pages, never gathered into one list


async def test_an_unknown_account_fails_the_build() -> None:
    with pytest.raises(AccountNotFound):
        await build_archive(
            data=FakeData(),
            writer=ArchiveWriter(io.BytesIO(), created_at=T0),
            account_id="acc-x",
            device_ids=[],
        )


def test_archive_paths_are_plain_names() -> None:
    assert part_path("positions", "dev-1.csv") == "positions/dev-1.csv"
    for bad in ("..", "../etc", "a/b", "", ".hidden", "x..y"):
        with pytest.raises(ArchiveError):
            part_path("media", bad)


def test_a_part_is_written_once() -> None:
    writer = ArchiveWriter(io.BytesIO(), created_at=T0)
    writer.add_json("profile.json", {}, records=1)
    with pytest.raises(ArchiveError):
        writer.add_json("profile.json", {}, records=1)
    with pytest.raises(ArchiveError):
        writer.add_json(MANIFEST, {}, records=1)


def test_media_files_keep_their_stored_extension() -> None:
    assert media_file_name("m1", "dev/2026/03/01/http-abc.jpg") == "m1.jpg"
    assert media_file_name("m1", "dev/2026/03/01/clip.MP4") == "m1.mp4"
    assert media_file_name("m1", "dev/2026/03/01/noext") == "m1.bin"
    assert media_file_name("m1", "dev/x.j/pg") == "m1.bin"
