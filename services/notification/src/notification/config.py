from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from notification.domain.webhook_target import IPNetwork, parse_networks
from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Every setting of the notification service: ``NOTIFICATION_*``, ``KAFKA_*``,
    ``CASSANDRA_*``."""

    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore")

    ops_port: int = 9471
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50111
    consumer_group: str = "notification"
    new_group_start: Literal["earliest", "latest"] = "latest"
    #: geocoding's gRPC address for the place of an alarm ("" = coordinates only)
    geocoding_address: str = "127.0.0.1:50081"
    geocoding_timeout_s: float = 0.3
    #: SMTP relay of the e-mails, host:port
    smtp_address: str = "127.0.0.1:25"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_s: float = 15.0
    email_from: str = "alarms@trackstream.local"
    #: webhooks must be https; tests on loopback allow plain http
    webhook_allow_http: bool = False
    #: networks webhooks may reach although they are not public (comma-separated CIDRs, e.g.
    #: "127.0.0.0/8,::1/128" for loopback receivers of the local stack and tests); default none:
    #: loopback, private, link-local, multicast, reserved... addresses are refused
    webhook_allowed_networks: str = ""
    webhook_timeout_s: float = 15.0
    #: attempts before a delivery is dead, and the backoff between them
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    #: deliveries in flight at once per channel, and per receiver (webhook host, push provider)
    channel_concurrency: int = 64
    receiver_concurrency: int = 4
    #: how often due retries and unfinished deliveries are picked up from Cassandra
    sweep_interval_s: float = 5.0
    #: how long an attempt holds its delivery: no sweeper takes it over before (above the
    #: longest send: webhook and SMTP timeouts)
    attempt_lease_s: float = 60.0
    #: time zone when a subscription names none
    default_time_zone: str = "UTC"
    #: push providers (FCM HTTP v1, APNs, JPush); base URLs overridable for tests
    fcm_url: str = "https://fcm.googleapis.com"
    fcm_project_id: str = ""
    fcm_access_token: str = ""
    apns_url: str = "https://api.push.apple.com"
    apns_topic: str = ""
    apns_auth_token: str = ""
    jpush_url: str = "https://api.jpush.cn"
    jpush_app_key: str = ""
    jpush_master_secret: str = ""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start, not at the first webhook
        return value

    @property
    def allowed_webhook_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.webhook_allowed_networks)
