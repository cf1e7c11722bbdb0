"""The media bucket through minio (blocking client, run in worker threads)."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable
from datetime import timedelta

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from media.domain.verify import StoredFacts
from trackstream_s3 import HashedPut

_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchVersion"}


class S3ObjectStore:
    def __init__(self, client: Minio, bucket: str, hashed_put: HashedPut) -> None:
        self.client = client
        self.bucket = bucket
        self.hashed_put = hashed_put

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

    async def put_named_by_hash(
        self, data: bytes, content_type: str, key_for: Callable[[str], str]
    ) -> tuple[str, str]:
        return await asyncio.to_thread(self._put_named_by_hash, data, content_type, key_for)

    def _put_named_by_hash(
        self, data: bytes, content_type: str, key_for: Callable[[str], str]
    ) -> tuple[str, str]:
        # in a worker thread: hashlib releases the GIL on large buffers, and the put follows
        # without a second hop through the event loop; the PUT is signed over this hash, so
        # the bytes are hashed once (minio's put_object would hash them again)
        sha256 = hashlib.sha256(data).hexdigest()
        key = key_for(sha256)
        self.hashed_put.put(self.bucket, key, data, content_type=content_type, sha256_hex=sha256)
        return sha256, key

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
