from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Every setting of the gateway: ``GATEWAY_*`` and ``KAFKA_*``."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ops_port: int = 9467
    #: idle keep-alive connections are kept this long: longer than a load balancer's idle
    #: timeout (often 60 s), so the balancer never reuses a connection the gateway just closed
    http_keep_alive_s: int = 75
    identity_address: str = "127.0.0.1:50071"
    history_address: str = "127.0.0.1:50061"
    geocoding_address: str = "127.0.0.1:50081"
    alarm_address: str = "127.0.0.1:50091"
    privacy_address: str = "127.0.0.1:50121"
    media_address: str = "127.0.0.1:50101"
    notification_address: str = "127.0.0.1:50111"
    #: deadline of one call to a backend (identity, history, geocoding, alarm, media,
    #: notification or privacy)
    backend_timeout_s: float = 5.0
    #: token bucket per access token / API key (and per client address for logins)
    rate_per_s: float = 20.0
    rate_burst: int = 100
    #: a token naming an unknown key refetches the JWKS at most this often
    jwks_refetch_interval_s: float = 10.0
    #: messages waiting for one WebSocket; beyond it they are dropped (and counted)
    live_queue_size: int = 256
    #: a WebSocket must authenticate within this time when the token comes as first message
    live_auth_timeout_s: float = 5.0
    #: command statuses kept in memory (the oldest are forgotten first)
    command_status_capacity: int = 100_000
    #: commands and results read back at start (ingest's command time-to-live)
    command_lookback_s: float = 24 * 3600.0
    #: a command not delivered within this time expires (unless the request says otherwise)
    command_ttl_s: float = 24 * 3600.0

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    #: the data keys that open sealed events for the live feed (trackstream_kafka.sealing)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
