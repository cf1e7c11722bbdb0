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

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
