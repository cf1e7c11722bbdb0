from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from trackstream_cassandra import CassandraSettings
from trackstream_kafka.settings import KafkaSettings
from trackstream_s3 import S3Settings
from trackstream_servicekit import ServiceSettings

#: the local development key; production sets INGEST_IDENTIFIER_KEY (shared with identity)
DEV_IDENTIFIER_KEY = "trackstream-local-identifier-key-not-for-production"


class IngestSettings(ServiceSettings):
    """Every setting of the ingest service, from ``INGEST_*`` (plus ``KAFKA_*``, ``S3_*`` and
    ``CASSANDRA_*``: the data keys that seal positions live there)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    #: where the device servers listen; 0.0.0.0 in a deployment (the Helm chart sets it)
    host: str = "127.0.0.1"
    gt06_port: int = 5023
    jt808_port: int = 5015
    osmand_port: int = 5055
    #: a connection with no bytes for this long is closed (Traccar's default is 1800 s)
    idle_timeout_s: float = 900.0
    #: largest frame accepted; a bigger one closes the connection
    max_frame_size: int = 16 * 1024
    read_chunk_size: int = 16 * 1024
    max_connections: int = 20_000
    #: unit of the OsmAnd query form's ``speed`` (Traccar's osmand.speed: kn, kmh, mps, mph)
    osmand_speed_unit: Literal["kn", "kmh", "mps", "mph"] = "kn"
    #: frames whose checksum does not match: kept and flagged on the event, or dropped
    drop_bad_checksum: bool = False
    #: devices that are not in the registry: refused, or accepted into tracking.quarantine.v1
    unknown_device_policy: Literal["reject", "quarantine"] = "quarantine"
    #: fixes of a device without consent to precise location: coarsened to the grid, or dropped
    without_location_consent: Literal["coarsen", "drop"] = "coarsen"
    #: a device registered without a recorded answer: treated as consenting ("granted") or not
    unrecorded_location_consent: Literal["granted", "withheld"] = "granted"
    #: the coarse grid, in degrees (0.05: about 5 km)
    coarse_grid_deg: float = Field(default=0.05, gt=0, le=1)
    #: HMAC key that turns IMEIs and phone numbers into registry lookups (shared with identity)
    identifier_key: SecretStr = SecretStr(DEV_IDENTIFIER_KEY)
    #: JT/T 808 devices report local time; the standard's zone is China (UTC+8)
    jt808_timezone: str = "Asia/Shanghai"
    #: JT/T 808 authentication codes are checked (a terminal with a wrong code registers again);
    #: off: any terminal is identified by its header phone, as Traccar does
    jt808_verify_auth_code: bool = True
    #: GT06 devices whose login carries no zone report this one
    gt06_timezone: str = "UTC"
    #: how long a command waits for an offline device unless it says otherwise
    command_ttl_s: float = 24 * 3600.0
    #: test-only failpoint: "exit-before-ack" makes the process exit after publishing a
    #: position and before acknowledging it (the crash-safety test uses it)
    failpoint: str = ""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
