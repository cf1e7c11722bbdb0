"""The media bucket through minio (blocking client, run in worker threads)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import timedelta

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from media.domain.verify import StoredFacts

_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchVersion"}


class S3ObjectStore:
    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def facts(self, bucket: str, key: str) -> StoredFacts | None:
        return await asyncio.to_thread(self._facts, bucket, key)

    def _facts(self, bucket: str, key: str) -> StoredFacts | None:
        try:
            response = self.client.get_object(bucket, key)
        except S3Error as err:
            if err.code in _MISSING:
                return None
            raise
        try:
            digest = hashlib.sha256()
            size = 0
            for chunk in response.stream(256 * 1024):
                digest.update(chunk)
                size += len(chunk)
        finally:
            response.close()
            response.release_conn()
        return StoredFacts(size_bytes=size, sha256=digest.hexdigest())

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )

    async def delete(self, bucket: str, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, bucket, key)

    async def delete_prefix(self, bucket: str, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix, bucket, prefix)

    def _delete_prefix(self, bucket: str, prefix: str) -> int:
        targets = [
            DeleteObject(o.object_name or "", o.version_id)
            for o in self.client.list_objects(
                bucket, prefix=prefix, recursive=True, include_version=True
            )
        ]
        if not targets:
            return 0
        errors = list(self.client.remove_objects(bucket, targets))
        if errors:
            raise RuntimeError(f"{len(errors)} objects could not be deleted: {errors[0]}")
        return len(targets)

    def presigned_get(self, bucket: str, key: str, ttl_s: int) -> str:
        return self.client.presigned_get_object(bucket, key, expires=timedelta(seconds=ttl_s))
