"""S3: every bucket (or the given ones), every object version and delete marker.

On a versioned bucket a plain DELETE only adds a delete marker and every version stays
readable, so the scan lists versions (``ListObjectVersions``), not objects. Per version it
searches the object key, the user metadata (``x-amz-meta-*`` names and values) and the content,
streamed in chunks that overlap by the longest pattern so nothing straddling two chunks is lost.
A delete marker has only its key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from minio import Minio
from minio.error import S3Error

from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.report import Hit, HitCollector, Location

log = logging.getLogger(__name__)

_META_PREFIX = "x-amz-meta-"


class S3ScanError(Exception):
    pass


@dataclass(slots=True)
class BucketCoverage:
    bucket: str
    versions: int = 0
    delete_markers: int = 0
    bytes: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "bucket": self.bucket,
            "versions": self.versions,
            "delete_markers": self.delete_markers,
            "bytes": self.bytes,
        }


@dataclass(slots=True)
class S3Scan:
    hits: list[Hit]
    buckets: list[BucketCoverage]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(b.bytes for b in self.buckets)

    def as_json(self) -> dict[str, object]:
        versions = sum(b.versions for b in self.buckets)
        return {
            "buckets": [b.as_json() for b in self.buckets],
            "versions": versions,
            "delete_markers": sum(b.delete_markers for b in self.buckets),
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "versions_per_s": round(versions / self.seconds, 1) if self.seconds else 0.0,
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else 0.0,
            "hits": len(self.hits),
            "notes": self.notes,
        }


def scan_s3(
    client: Minio,
    matcher: Matcher,
    *,
    buckets: Sequence[str] = (),
    chunk_bytes: int = 1 << 20,
) -> S3Scan:
    started = time.monotonic()
    try:
        listed = sorted(b.name for b in client.list_buckets())
    except S3Error as err:
        raise S3ScanError(f"listing buckets failed: {err.code}") from err
    missing = sorted(set(buckets) - set(listed))
    if missing:
        raise S3ScanError(f"no such buckets: {missing}")
    hits = HitCollector("s3")
    coverage = []
    for bucket in sorted(buckets) if buckets else listed:
        covered = BucketCoverage(bucket)
        coverage.append(covered)
        for obj in client.list_objects(bucket, recursive=True, include_version=True):
            _scan_version(client, matcher, bucket, obj, covered, hits, chunk_bytes)
    result = S3Scan(hits.hits(), coverage, time.monotonic() - started)
    result.notes.append("object tags and bucket-level configuration are not searched")
    return result


def _scan_version(
    client: Minio,
    matcher: Matcher,
    bucket: str,
    obj: Any,
    covered: BucketCoverage,
    hits: HitCollector,
    chunk_bytes: int,
) -> None:
    name = str(obj.object_name)
    location: Location = (
        ("bucket", bucket),
        ("key", matcher.redact(name)),
        ("version_id", obj.version_id),
        ("delete_marker", bool(obj.is_delete_marker)),
        ("latest", bool(obj.is_latest)),
    )
    fields: list[tuple[str, bytes]] = [("key", name.encode())]
    if obj.is_delete_marker:
        covered.delete_markers += 1
        _add(matcher, location, fields, hits)
        return
    covered.versions += 1
    response = client.get_object(bucket, name, version_id=obj.version_id)
    try:
        for header, value in response.headers.items():
            if header.lower().startswith(_META_PREFIX):
                fields.append(("metadata-name", header[len(_META_PREFIX) :].encode()))
                fields.append((f"metadata:{header[len(_META_PREFIX) :].lower()}", value.encode()))
        _add(matcher, location, fields, hits)
        overlap = matcher.max_length - 1
        carry = b""
        for chunk in response.stream(chunk_bytes):
            covered.bytes += len(chunk)
            window = carry + chunk
            for offset, pattern in matcher.find(window):
                # a match that ends inside the carried bytes was counted with the last chunk
                if offset + len(pattern.data) > len(carry):
                    hits.add(location, "content", pattern)
            carry = window[-overlap:] if overlap else b""
    finally:
        response.close()
        response.release_conn()


def _add(
    matcher: Matcher, location: Location, fields: list[tuple[str, bytes]], hits: HitCollector
) -> None:
    for match in matcher.find_in_fields(fields):
        hits.add(location, matcher.redact(match.field), match.pattern)
