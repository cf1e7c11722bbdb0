"""Where an export reads an account's data from: the services' own read APIs (the gRPC
adapter is ``privacy.adapters.collectors``; tests use a fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from trackstream.alarm.v1.alarm_service_pb2 import AlarmRecord
from trackstream.alarm.v1.geofence_pb2 import Geofence, Rule
from trackstream.history.v1.history_service_pb2 import TrackPoint
from trackstream.identity.v1.identity_service_pb2 import Account, ApiKey, Device
from trackstream.media.v1.media_pb2 import MediaObject
from trackstream.notification.v1.notification_service_pb2 import (
    Delivery,
    InboxEntry,
    Subscription,
)


class AccountNotFound(Exception):
    """The account to export does not exist (or no longer does)."""


class AccountData(Protocol):
    """Every read an export makes. Collections of unbounded size come as pages."""

    async def account(self, account_id: str) -> Account:
        """The profile; raises :class:`AccountNotFound`."""
        ...

    async def api_keys(self, account_id: str) -> Sequence[ApiKey]: ...

    async def devices(self, device_ids: Sequence[str]) -> Sequence[Device]: ...

    def positions(self, device_id: str) -> AsyncIterator[Sequence[TrackPoint]]:
        """Every stored position of the device, oldest first, a page at a time."""
        ...

    def alarms(self, device_id: str) -> AsyncIterator[Sequence[AlarmRecord]]: ...

    def media(self, device_id: str) -> AsyncIterator[Sequence[MediaObject]]: ...

    def media_content(self, device_id: str, media_id: str) -> AsyncIterator[bytes]:
        """The stored bytes of one media object, in chunks."""
        ...

    async def geofences(self, account_id: str) -> Sequence[Geofence]: ...

    async def rules(self, account_id: str) -> Sequence[Rule]: ...

    async def subscriptions(self, account_id: str) -> Sequence[Subscription]: ...

    async def deliveries(self, account_id: str) -> Sequence[Delivery]: ...

    async def inbox(self, account_id: str) -> Sequence[InboxEntry]: ...
