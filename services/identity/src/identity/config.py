from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings

#: the local development keys; production sets INGEST_IDENTIFIER_KEY and IDENTITY_LOOKUP_KEY
DEV_IDENTIFIER_KEY = "trackstream-local-identifier-key-not-for-production"
DEV_LOOKUP_KEY = "trackstream-local-lookup-key-not-for-production"


class IdentitySettings(ServiceSettings):
    """Every setting of the identity service: ``IDENTITY_*``, ``KAFKA_*``, ``CASSANDRA_*``, and
    ``INGEST_IDENTIFIER_KEY`` (the identifier HMAC key is the one ingest resolves devices with)."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50071
    ops_port: int = 9466
    #: Ed25519 private key (PEM, PKCS#8) that signs access and share-link tokens; created
    #: (mode 0600) when missing
    signing_key_file: Path = Path(".run/identity/signing-key.pem")
    #: HMAC key for device identifiers: the same variable ingest and the simulator read, so
    #: ingest resolves the devices identity registers
    identifier_key: SecretStr = Field(
        default=SecretStr(DEV_IDENTIFIER_KEY),
        validation_alias=AliasChoices("INGEST_IDENTIFIER_KEY", "identifier_key"),
    )
    #: HMAC key of the e-mail lookup table (changing it makes every e-mail unfindable)
    lookup_key: SecretStr = SecretStr(DEV_LOOKUP_KEY)
    access_token_lifetime_s: float = 15 * 60.0
    refresh_token_lifetime_s: float = 30 * 86400.0
    share_link_max_lifetime_s: float = 7 * 86400.0
    #: argon2id parameters (argon2-cffi defaults: RFC 9106 low-memory profile); hashes made
    #: with other parameters are rehashed at the next login
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    password_parallelism: int = 4
    #: password hashes computed at once (each takes password_memory_kib and, with
    #: parallelism 4, up to 4 threads): about the number of cores
    password_concurrency: int = 2
    #: how often changes whose publish failed are published again
    republish_interval_s: float = 10.0
    #: a change is republished only when its mark is older than this (younger ones may
    #: belong to a call still in flight); longer than any call takes
    republish_grace_s: float = 60.0
    #: the longest retention (days) an account may set for its positions, alarms or media
    #: (0: no platform maximum; Cassandra's TTL bound of 7300 days holds regardless)
    max_retention_days: int = Field(default=0, ge=0)
    #: the consumer group that takes part in erasures (privacy.erasure-orders.v1)
    erasure_group: str = "identity-erasure"
    #: bootstrap-admin: the platform account's e-mail and a file holding its password
    admin_email: str = ""
    admin_password_file: Path | None = None
    admin_display_name: str = "Platform administrator"

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
