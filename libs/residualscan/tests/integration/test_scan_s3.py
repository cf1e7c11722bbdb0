"""S3: a versioned test bucket holding an object in two versions, the newer one deleted (a
delete marker on top): the scan reads every version, the marker, keys, user metadata and
content (across the boundary of two streamed chunks), and finds nothing once every version and
marker is gone."""

from __future__ import annotations

import io
import os

import pytest
from minio import Minio

from libs.residualscan.tests.subjects import IDENTIFIER_KEY, fresh_subject
from trackstream_protocols.gt06.device import encode_login
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import derive_patterns
from trackstream_residual_scan.stores.s3 import S3ScanError, scan_s3
from trackstream_residual_scan.subject import IdentifierKind, Subject

CHUNK = 64 * 1024
#: (key, version is a delete marker, field, identifier, encoding, occurrences)
Found = set[tuple[str, bool, str, str, str, int]]


def _v(subject: Subject, kind: IdentifierKind, index: int = 0) -> str:
    return subject.of_kind(kind)[index].value


def _plant(client: Minio, bucket: str, subject: Subject) -> tuple[str, Found]:
    device = _v(subject, IdentifierKind.ID, 1)
    key = f"devices/{device}/clip-1.mp4"
    shown = "devices/<id:1>/clip-1.mp4"
    login = encode_login(_v(subject, IdentifierKind.DEVICE_IDENTIFIER, 0), serial=1)
    # version 1: the IMEI frame straddles the first chunk boundary, the name sits in the middle
    first = bytearray(os.urandom(3 * CHUNK))
    first[CHUNK - 5 : CHUNK - 5 + len(login)] = login
    name = _v(subject, IdentifierKind.NAME).encode("utf-16-le")
    first[2 * CHUNK : 2 * CHUNK + len(name)] = name
    # a zero byte just before it would make the UTF-16LE name read as UTF-16BE too (00 n1 00 n2 ...)
    first[2 * CHUNK - 1] = 0xFF
    email = _v(subject, IdentifierKind.EMAIL)
    client.put_object(
        bucket, key, io.BytesIO(bytes(first)), len(first), metadata={"uploaded-by": email}
    )
    # version 2: nothing personal inside, then deleted (a marker becomes the latest version)
    client.put_object(bucket, key, io.BytesIO(b"\x00" * 100), 100)
    client.remove_object(bucket, key)
    return key, {
        (shown, False, "key", "id:1", "utf8", 1),  # in both versions (told apart by version id)
        (shown, True, "key", "id:1", "utf8", 1),
        (shown, False, "metadata:uploaded-by", "email:0", "utf8", 1),
        (shown, False, "content", "device_identifier:0", "bcd-gt06-imei", 1),
        (shown, False, "content", "name:0", "utf16le", 1),
    }


def _scan(
    client: Minio, bucket: str, subject: Subject
) -> tuple[list[tuple[str, str, bool, str, str, str, int]], dict[str, object]]:
    matcher = Matcher(derive_patterns(subject, identifier_key=IDENTIFIER_KEY))
    result = scan_s3(client, matcher, buckets=[bucket], chunk_bytes=CHUNK)
    found = sorted(
        (
            str(dict(h.location)["key"]),
            str(dict(h.location)["version_id"]),
            bool(dict(h.location)["delete_marker"]),
            h.field,
            h.identifier,
            h.encoding,
            h.occurrences,
        )
        for h in result.hits
    )
    return found, result.as_json()


def test_s3_every_version_and_marker_positive_control_and_removal(
    bucket: tuple[Minio, str],
) -> None:
    client, name = bucket
    subject, other = fresh_subject(), fresh_subject()
    key, planted = _plant(client, name, subject)
    _plant(client, name, other)

    found, report = _scan(client, name, subject)
    versions = {v for _, v, *_ in found}
    assert len(versions) == 3  # two versions and the delete marker, each with its own id
    assert {(k, m, f, i, e, n) for k, _, m, f, i, e, n in found} == planted
    assert sum(1 for hit in found if hit[3] == "key") == 3
    assert report["versions"] == 4 and report["delete_markers"] == 2
    assert report["bytes"] == 2 * (3 * CHUNK + 100)
    assert _scan(client, name, other)[0] != []
    assert _scan(client, name, fresh_subject())[0] == []

    for obj in client.list_objects(name, prefix=key, recursive=True, include_version=True):
        client.remove_object(name, obj.object_name, version_id=obj.version_id)
    found, report = _scan(client, name, subject)
    assert found == []
    assert report["versions"] == 2 and report["delete_markers"] == 1  # the other subject's
    assert _scan(client, name, other)[0] != []


def test_unknown_bucket_is_an_error(bucket: tuple[Minio, str]) -> None:
    client, _ = bucket
    with pytest.raises(S3ScanError, match="no such buckets"):
        scan_s3(client, Matcher(derive_patterns(fresh_subject())), buckets=["no-such-bucket-here"])
