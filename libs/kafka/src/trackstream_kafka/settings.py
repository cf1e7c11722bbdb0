from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection and client tuning, from ``KAFKA_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    #: replicas per partition for provisioned topics (1 on the single local broker)
    replication_factor: int = 1
    #: how long the producer keeps retrying a batch (broker restart, leader change) before failing
    delivery_timeout_ms: int = 60_000
    linger_ms: int = 5
    max_batch_size: int = 64 * 1024
    #: gzip, snappy, lz4 or zstd; unset or empty: none (a deployment can set it to "")
    compression_type: str | None = None
    #: consumer: records fetched per poll, and how long a poll waits for them
    max_poll_records: int = 500
    poll_timeout_ms: int = 200
    session_timeout_ms: int = 10_000

    @field_validator("compression_type")
    @classmethod
    def _empty_means_none(cls, value: str | None) -> str | None:
        return value or None
