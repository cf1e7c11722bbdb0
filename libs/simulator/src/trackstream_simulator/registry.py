"""Registering a simulated fleet in identity's device registry, so ingest knows its devices.

Each device becomes a ``DeviceRegistered`` on ``identity.device-registry.v1``, keyed by its
stable device id and carrying only the HMAC of its IMEI or phone (never the identifier itself),
exactly what identity publishes for a real device. Ingest computes the same HMAC from a login
with the same key, so the key here must be ingest's: ``--identifier-key``, else
``INGEST_IDENTIFIER_KEY``, else the local development key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.catalog import topic
from trackstream_events.envelope import Envelope
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka import Outgoing
from trackstream_simulator.codec import GT06_TIMEZONE_NAME, JT808_TIMEZONE_NAME
from trackstream_simulator.identities import Identity, owner_account_id_for

__all__ = [
    "DEV_IDENTIFIER_KEY",
    "IDENTIFIER_KEY_ENV",
    "REGISTRY_TOPIC",
    "identifier_key",
    "register_fleet",
    "registrations",
]

REGISTRY_TOPIC = topic("identity.device-registry.v1").name
IDENTIFIER_KEY_ENV = "INGEST_IDENTIFIER_KEY"
#: the local development key: the same literal ingest falls back to when INGEST_IDENTIFIER_KEY
#: is unset (services/ingest config, ``DEV_IDENTIFIER_KEY``). Never valid in production.
DEV_IDENTIFIER_KEY = "trackstream-local-identifier-key-not-for-production"


class Publisher(Protocol):
    async def publish_many(self, items: Sequence[Outgoing]) -> list[Envelope]: ...


def identifier_key(explicit: str | None, environ: Mapping[str, str] = os.environ) -> bytes:
    """The HMAC key: ``explicit``, else ``$INGEST_IDENTIFIER_KEY``, else the local dev key."""
    return (explicit or environ.get(IDENTIFIER_KEY_ENV) or DEV_IDENTIFIER_KEY).encode()


def registrations(
    identities: Sequence[Identity], *, key: bytes, seed: int, now: datetime
) -> list[Outgoing]:
    """One ``DeviceRegistered`` per device, keyed by its device id."""
    owner = owner_account_id_for(seed)
    out = []
    for identity in identities:
        event = DeviceRegistered(
            device_id=identity.device_id,
            identifier_hmac=identifier_hmac(key, identity.identifier),
            owner_account_id=owner,
            device_timezone=(
                GT06_TIMEZONE_NAME if identity.protocol == "gt06" else JT808_TIMEZONE_NAME
            ),
        )
        event.registered_time.FromDatetime(now)
        out.append(Outgoing(REGISTRY_TOPIC, event, identity.device_id, time=now))
    return out


async def register_fleet(
    publisher: Publisher,
    identities: Sequence[Identity],
    *,
    key: bytes,
    seed: int,
    now: datetime,
) -> int:
    """Publish the fleet's registrations (Kafka acknowledged them when this returns)."""
    items = registrations(identities, key=key, seed=seed, now=now)
    await publisher.publish_many(items)
    return len(items)
