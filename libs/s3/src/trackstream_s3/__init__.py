"""The S3-compatible object store (SeaweedFS locally, any S3 in production) through minio."""

from trackstream_s3.hashed_put import HashedPut, S3PutFailed
from trackstream_s3.store import S3CredentialsError, S3Settings, ensure_buckets, make_client

__all__ = [
    "HashedPut",
    "S3CredentialsError",
    "S3PutFailed",
    "S3Settings",
    "ensure_buckets",
    "make_client",
]
