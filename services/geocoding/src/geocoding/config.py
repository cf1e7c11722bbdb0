from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_servicekit import ServiceSettings


class ProviderKind(StrEnum):
    NONE = "none"
    NOMINATIM = "nominatim"
    PHOTON = "photon"


class GeocodingSettings(ServiceSettings):
    """Every setting of the geocoding service: ``GEOCODING_*`` and ``KAFKA_*``."""

    model_config = SettingsConfigDict(env_prefix="GEOCODING_", extra="ignore")

    ops_port: int = 9468
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50081
    consumer_group: str = "geocoding"
    #: H3 resolution of the cache cells (9: cells of about 0.1 km², edges about 200 m)
    h3_resolution: int = Field(default=9, ge=0, le=15)
    #: cells kept in the cache (least recently used out first)
    cache_size: int = Field(default=200_000, ge=1)
    #: a device that moved no further than this since its last looked-up fix reuses its place
    move_threshold_m: float = Field(default=50.0, ge=0)
    #: devices whose last looked-up fix is remembered (least recently seen out first)
    max_devices: int = Field(default=1_000_000, ge=1)

    #: external provider: none (offline only), nominatim or photon
    provider: ProviderKind = ProviderKind.NONE
    #: its base URL, e.g. http://127.0.0.1:8080 (a self-hosted instance)
    provider_url: str = ""
    #: sent with every request (Nominatim's usage policy asks for one that names the app)
    provider_user_agent: str = "trackstream-geocoding/0.1 (self-hosted)"
    provider_language: str = "en"
    #: the longest a position or an on-demand lookup waits for the provider
    provider_timeout_s: float = Field(default=2.0, gt=0)
    #: requests a second at most (Nominatim's public instance allows 1), and at once
    provider_max_rps: float = Field(default=1.0, gt=0)
    provider_burst: int = Field(default=1, ge=1)
    #: failures in a row that open the breaker, and how long it stays open before a trial
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_s: float = Field(default=30.0, ge=0)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    #: the data keys that open sealed positions and seal addresses (trackstream_kafka.sealing)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)

    @model_validator(mode="after")
    def _provider_needs_url(self) -> GeocodingSettings:
        if self.provider is not ProviderKind.NONE and not self.provider_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError(
                f"GEOCODING_PROVIDER={self.provider.value} needs GEOCODING_PROVIDER_URL "
                "(http:// or https://)"
            )
        return self
