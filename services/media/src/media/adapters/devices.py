"""The device registry as media sees it: IMEI (via the identifier HMAC) -> device id, and the
device's account, from the compacted ``identity.device-registry.v1`` topic; and the accounts
(``identity.accounts.v1``), for their media retention."""

from __future__ import annotations

from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_kafka.index import SecondaryIndex
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import CompactedTable

REGISTRY_TOPIC = "identity.device-registry.v1"
ACCOUNTS_TOPIC = "identity.accounts.v1"


class RegistryDevices:
    """Tests seed it through ``table.apply`` (no broker needed until ``table.run``)."""

    def __init__(self, settings: KafkaSettings, identifier_key: bytes) -> None:
        self._key = identifier_key
        self.by_hmac: SecondaryIndex[DeviceRegistered, bytes] = SecondaryIndex(
            lambda registered: registered.identifier_hmac
        )
        self.table: CompactedTable[DeviceRegistered] = CompactedTable(
            settings,
            REGISTRY_TOPIC,
            DeviceRegistered.FromString,
            client_id="media-devices",
            on_change=self.by_hmac.apply,
        )
        self.accounts: CompactedTable[AccountChanged] = CompactedTable(
            settings, ACCOUNTS_TOPIC, AccountChanged.FromString, client_id="media-accounts"
        )

    def device_of(self, identifier: str) -> str | None:
        try:
            hmac = identifier_hmac(self._key, identifier)
        except ValueError:
            return None
        device_id = self.by_hmac.lookup(hmac)
        if device_id is None:
            return None
        registered = self.table.get(device_id)
        if registered is None or registered.disabled:
            return None
        return device_id

    def account_of(self, device_id: str) -> str | None:
        registered = self.table.get(device_id)
        return registered.owner_account_id if registered else None
