from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings


class AlarmSettings(ServiceSettings):
    """Every setting of the alarm service: ``ALARM_*``, ``KAFKA_*``, ``CASSANDRA_*``."""

    model_config = SettingsConfigDict(env_prefix="ALARM_", extra="ignore")

    ops_port: int = 9469
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50091
    #: the engine's consumer group (positions and device alarms)
    consumer_group: str = "alarm"
    #: the group that writes alarm.alarms.v1 into the history store
    history_group: str = "alarm-history"
    #: where the engine's group starts when it has no committed offsets: "latest" (a first
    #: deployment raises no alarms about the days already in the topics) or "earliest"
    new_group_start: Literal["earliest", "latest"] = "latest"
    #: how often the timers (offline, idle, parked too long, dwell) are swept
    sweep_interval_s: float = 5.0
    #: at or above this speed a device is moving
    moving_speed_kmh: float = 5.0
    #: rows written at once into Cassandra
    write_concurrency: int = 64
    #: the platform's alarm retention in days, for accounts that set none up their tree
    #: (0: kept until erased); an account's own comes from identity.accounts.v1
    retention_days: int = Field(default=0, ge=0)
    #: how often alarms older than their account's retention are swept (a shortened one)
    retention_sweep_interval_s: float = 3600.0

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
