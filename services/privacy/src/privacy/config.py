from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings
from trackstream_servicekit import ServiceSettings

#: the local stack's ledger key; production sets its own (a secret: it keys subject hashes)
DEV_LEDGER_KEY = "trackstream-local-ledger-key-not-for-production"


class PrivacySettings(ServiceSettings):
    """Every setting of the privacy service: ``PRIVACY_*``, ``KAFKA_*``, ``CASSANDRA_*``."""

    model_config = SettingsConfigDict(env_prefix="PRIVACY_", extra="ignore")

    ops_port: int = 9472
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50121
    consumer_group: str = "privacy"
    #: HMAC key of the subject hashes the ledger and the certificates keep
    ledger_key: SecretStr = SecretStr(DEV_LEDGER_KEY)
    #: Ed25519 key that signs certificates (PEM; created on first start when missing)
    signing_key_file: Path = Path(".run/privacy/certificate-key.pem")
    #: an order not acknowledged by every participant within this is sent again
    resend_interval_s: float = Field(default=30.0, gt=0)
    #: how often pending erasures are looked at
    sweep_interval_s: float = Field(default=5.0, gt=0)

    # --- exports (README, "Export") ---
    #: the services an export reads from (gRPC)
    identity_address: str = "127.0.0.1:50071"
    history_address: str = "127.0.0.1:50061"
    alarm_address: str = "127.0.0.1:50091"
    media_address: str = "127.0.0.1:50101"
    notification_address: str = "127.0.0.1:50111"
    #: how long the presigned link of a ready archive is valid; the archive is deleted after
    #: (S3 presigned links last at most 7 days)
    export_url_ttl_s: int = Field(default=3600, gt=0, le=7 * 86_400)
    #: how long GetExport still answers for an export (its Cassandra rows' TTL); at least the
    #: link's validity
    export_record_ttl_s: int = Field(default=7 * 86_400, gt=0)
    #: exports built at the same time by one replica (the others wait, RUNNING)
    export_concurrency: int = Field(default=2, gt=0)
    #: a RUNNING export whose builder has not reported for this long (a crashed replica) FAILS
    export_stale_s: float = Field(default=300.0, gt=0)
    #: positions and alarms are looked for from this day on (the GPS epoch: no fix is older)
    export_earliest_day: date = date(1980, 1, 6)
    #: ... up to this many days ahead of now (devices with broken clocks report the future)
    export_future_days: int = Field(default=730, ge=1)
    #: how often expired archives and stalled builds are looked for
    export_sweep_interval_s: float = Field(default=60.0, gt=0)
    #: the consumer group of the exports' erasure participant
    export_erasure_group: str = "privacy-exports-erasure"
    #: the consumer group of the participant that destroys erased subjects' data keys
    keys_erasure_group: str = "privacy-keys-erasure"
    s3: S3Settings = Field(default_factory=S3Settings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)

    @model_validator(mode="after")
    def _records_outlive_links(self) -> PrivacySettings:
        if self.export_record_ttl_s < self.export_url_ttl_s:
            raise ValueError(
                "PRIVACY_EXPORT_RECORD_TTL_S must be at least PRIVACY_EXPORT_URL_TTL_S "
                "(GetExport answers for as long as the link is valid)"
            )
        return self
