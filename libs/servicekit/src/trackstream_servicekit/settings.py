from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service's settings class starts from. A service subclasses it once, with its
    own ``env_prefix`` (``INGEST_``, ``HISTORY_``, ...), and nests the infrastructure settings it
    needs (``KafkaSettings``, ``CassandraSettings``, ``S3Settings``), which read their own
    ``KAFKA_*``/``CASSANDRA_*``/``S3_*`` variables."""

    model_config = SettingsConfigDict(extra="ignore")

    log_level: str = "INFO"
    #: health (/healthz, /readyz) and Prometheus (/metrics) endpoint
    ops_host: str = "127.0.0.1"
    ops_port: int = 0
    #: how long SIGTERM waits for in-flight work before the process exits anyway
    shutdown_grace_s: float = 20.0
