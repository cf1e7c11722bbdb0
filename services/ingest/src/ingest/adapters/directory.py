"""The device registry as ingest sees it: identifier HMAC to device id, from the compacted
``identity.device-registry.v1`` topic (a :class:`CompactedTable`)."""

from __future__ import annotations

import asyncio

from ingest.ports import Registration
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_kafka.index import SecondaryIndex
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import CompactedTable

REGISTRY_TOPIC = "identity.device-registry.v1"


class InMemoryDirectory:
    """A registry tests and the simulator seed directly."""

    def __init__(self) -> None:
        self._by_hmac: SecondaryIndex[DeviceRegistered, bytes] = SecondaryIndex(
            lambda registered: registered.identifier_hmac
        )
        self._registrations: dict[str, Registration] = {}

    def lookup(self, identifier_hmac: bytes) -> Registration | None:
        device_id = self._by_hmac.lookup(identifier_hmac)
        return None if device_id is None else self._registrations.get(device_id)

    def apply(self, device_id: str, registered: DeviceRegistered | None) -> None:
        """A record of the registry topic: a registration, or None for a tombstone."""
        self._by_hmac.apply(device_id, registered)
        if registered is None:
            self._registrations.pop(device_id, None)
        else:
            self._registrations[device_id] = Registration(
                device_id=device_id,
                timezone=registered.device_timezone,
                location_consent=registered.location_consent,
                worn_by_minor=registered.worn_by_minor,
                guardian_consent=registered.guardian_consent,
            )

    def __len__(self) -> int:
        return len(self._by_hmac)


class KafkaDirectory(InMemoryDirectory):
    """The registry topic read whole at start (``ready`` once caught up), then followed."""

    def __init__(self, settings: KafkaSettings) -> None:
        super().__init__()
        self._table = CompactedTable(
            settings,
            REGISTRY_TOPIC,
            DeviceRegistered.FromString,
            client_id="ingest-directory",
            on_change=self.apply,
        )
        self.ready = self._table.ready

    async def run(self, stopping: asyncio.Event) -> None:
        await self._table.run(stopping)
