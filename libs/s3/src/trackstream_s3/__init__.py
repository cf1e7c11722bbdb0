"""The S3-compatible object store (SeaweedFS locally, any S3 in production) through minio."""

from trackstream_s3.store import S3CredentialsError, S3Settings, ensure_buckets, make_client

__all__ = ["S3CredentialsError", "S3Settings", "ensure_buckets", "make_client"]
