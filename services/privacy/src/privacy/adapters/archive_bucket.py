"""Export archives in the S3 bucket ``trackstream-exports`` (unversioned: a DELETE is final).
Keys hold only the export id (``<export id>.zip``); minio calls run in worker threads."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import BinaryIO

from minio import Minio
from minio.error import S3Error

ARCHIVE_CONTENT_TYPE = "application/zip"


def archive_key(export_id: str) -> str:
    return f"{export_id}.zip"


class ArchiveBucket:
    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    async def upload(self, key: str, file: BinaryIO, size: int) -> None:
        """Store ``size`` bytes of ``file`` (read from its start) as ``key``."""
        file.seek(0)
        await asyncio.to_thread(
            self._client.put_object,
            self.bucket,
            key,
            file,
            size,
            content_type=ARCHIVE_CONTENT_TYPE,
            part_size=64 * 1024 * 1024,
        )

    def download_url(self, key: str, valid_for: timedelta) -> str:
        """A presigned GET (computed locally: no call to the store)."""
        return self._client.presigned_get_object(self.bucket, key, expires=valid_for)

    async def delete(self, key: str) -> bool:
        """Delete one archive; False when there was none."""

        def delete() -> bool:
            try:
                self._client.stat_object(self.bucket, key)
            except S3Error as err:
                if err.code in {"NoSuchKey", "NoSuchObject", "NotFound"}:
                    return False
                raise
            self._client.remove_object(self.bucket, key)
            return True

        return await asyncio.to_thread(delete)

    async def older_than(self, cutoff: datetime) -> list[str]:
        """Keys of the archives stored before ``cutoff``."""

        def listed() -> list[str]:
            return [
                o.object_name
                for o in self._client.list_objects(self.bucket, recursive=True)
                if o.object_name is not None
                and o.last_modified is not None
                and o.last_modified < cutoff
            ]

        return await asyncio.to_thread(listed)
