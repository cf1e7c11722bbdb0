from __future__ import annotations

from minio import Minio
from minio.error import S3Error
from minio.versioningconfig import VersioningConfig
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from trackstream_events.catalog import Bucket

_CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}


class S3Settings(BaseSettings):
    """Object store settings from ``S3_*`` variables (local defaults match deploy/local/s3)."""

    model_config = SettingsConfigDict(env_prefix="S3_", extra="ignore")

    endpoint: str = "127.0.0.1:8333"
    access_key: str = "trackstream"
    secret_key: SecretStr = SecretStr("trackstream-local-secret")
    secure: bool = False
    region: str = "us-east-1"


class S3CredentialsError(Exception):
    """The store refused our keys; the message says which variables to check."""


def make_client(settings: S3Settings) -> Minio:
    return Minio(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key.get_secret_value(),
        secure=settings.secure,
        region=settings.region,
    )


def ensure_buckets(client: Minio, settings: S3Settings, buckets: tuple[Bucket, ...]) -> list[str]:
    """Create missing buckets (versioning as declared); returns the names it created."""
    created = []
    try:
        for bucket in buckets:
            if not client.bucket_exists(bucket.name):
                client.make_bucket(bucket.name)
                created.append(bucket.name)
            if bucket.versioned:
                client.set_bucket_versioning(bucket.name, VersioningConfig("Enabled"))
    except S3Error as err:
        if err.code in _CREDENTIAL_ERRORS:
            raise S3CredentialsError(
                f"the S3 store at {settings.endpoint} refused access key "
                f"{settings.access_key!r} ({err.code}): check S3_ACCESS_KEY and S3_SECRET_KEY "
                "(locally they must match deploy/local/s3/s3.json)"
            ) from None
        raise
    return created
