from __future__ import annotations

import asyncio
import io

from minio import Minio


class S3MediaStore:
    """Device media into the object store (minio's client is blocking: it runs in a thread)."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )
