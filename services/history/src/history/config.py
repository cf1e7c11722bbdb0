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
    #: positions are kept this long (0: until erased); applied as a Cassandra TTL per row
    retention_days: int = 0
    #: per account, overriding ``retention_days``: JSON, e.g. {"<account id>": 30}; the device's
    #: account comes from identity.device-registry.v1
    account_retention_days: dict[str, int] = Field(default_factory=dict)
    #: a fix time further ahead than this is flagged "future"
    future_tolerance_s: float = 24 * 3600.0

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
