"""Scanner settings from the environment (the stores' own settings come from their libraries:
``KAFKA_*``, ``CASSANDRA_*``, ``S3_*``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ScanSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RESIDUAL_SCAN_", extra="ignore")

    #: the platform's identifier HMAC key (ingest and identity's INGEST_IDENTIFIER_KEY); unset:
    #: identifier HMACs are not searched, and the report says so
    identifier_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RESIDUAL_SCAN_IDENTIFIER_KEY", "INGEST_IDENTIFIER_KEY"),
    )
    #: Murmur3 token ranges per table, and rows per page
    cassandra_splits: int = Field(default=64, ge=1, le=65536)
    cassandra_fetch_size: int = Field(default=500, ge=1, le=100_000)
    #: token ranges read at the same time
    cassandra_concurrency: int = Field(default=4, ge=1, le=64)
    cassandra_request_timeout_s: float = Field(default=60.0, gt=0)
    #: open sealed Kafka records (``ts-sealed``) with the subjects' data keys, read from the key
    #: store in Cassandra (the positive control finds identifiers that live only there)
    open_sealed: bool = True
    #: a Kafka partition that makes no progress this long fails the scan
    kafka_stall_timeout_s: float = Field(default=60.0, gt=0)
    #: S3 content is streamed in chunks of this size
    s3_chunk_bytes: int = Field(default=1 << 20, ge=4096)
