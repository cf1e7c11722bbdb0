from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
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

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
