from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings
from trackstream_servicekit import ServiceSettings

#: the local stack's identifier key (the same as ingest's default); production sets its own
DEV_IDENTIFIER_KEY = "trackstream-local-identifier-key-not-for-production"


class MediaSettings(ServiceSettings):
    """Every setting of the media service: ``MEDIA_*``, ``KAFKA_*``, ``CASSANDRA_*``, ``S3_*``."""

    model_config = SettingsConfigDict(env_prefix="MEDIA_", extra="ignore")

    ops_port: int = 9470
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50101
    #: the Jimi dashcam upload endpoint (what Traccar serves as ``jimiphoto``)
    http_host: str = "0.0.0.0"
    http_port: int = 5267
    consumer_group: str = "media"
    bucket: str = "trackstream-media"
    #: the largest upload accepted over HTTP
    max_upload_bytes: int = 50 * 1024 * 1024
    allowed_content_types: list[str] = Field(
        default_factory=lambda: ["image/jpeg", "image/png", "video/mp4", "video/x-msvideo"]
    )
    #: how long a presigned download URL stays valid
    download_url_ttl_s: int = 300
    #: the platform's media retention in days, for accounts that set none up their tree (0:
    #: until deleted or erased); an account's own comes from identity.accounts.v1
    retention_days: int = Field(default=0, ge=0)
    #: media captured this close to an alarm of the same device and a matching kind are
    #: linked to it (README, "Linking media to alarms")
    alarm_link_window_s: float = 30.0
    #: how often the retention sweeper runs (expiry days, and media older than a shortened
    #: retention)
    sweep_interval_s: float = 3600.0
    #: the platform's identifier HMAC key (the same as ingest's): resolves uploads' IMEIs
    identifier_key: SecretStr = SecretStr(DEV_IDENTIFIER_KEY)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
