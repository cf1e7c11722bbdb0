from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings


class HistorySettings(ServiceSettings):
    """Every setting of the history service: ``HISTORY_*``, ``KAFKA_*``, ``CASSANDRA_*``."""

    model_config = SettingsConfigDict(env_prefix="HISTORY_", extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50061
    consumer_group: str = "history"
    #: rows written at once (Cassandra requests in flight)
    write_concurrency: int = 128
    #: the platform's position retention in days, for accounts that set none up their tree
    #: (0: until erased); an account's own comes from identity.accounts.v1, the device's account
    #: from identity.device-registry.v1; applied as a Cassandra TTL per row
    retention_days: int = Field(default=0, ge=0)
    #: how often positions older than their account's retention are swept (a shortened one)
    retention_sweep_interval_s: float = 3600.0
    #: a fix time further ahead than this is flagged "future"
    future_tolerance_s: float = 24 * 3600.0

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
