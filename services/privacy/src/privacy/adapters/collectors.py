"""An account's data from the services' read APIs (gRPC), for exports.

Positions and alarms can only be asked for by time range (at most 31 days a request, paged), so
the whole history is walked in 30-day windows from ``earliest_day`` to ``future_days`` ahead of
now. A window is probed first with a one-record page, several windows at a time: an empty
window costs one index read in the service, and only windows that hold something are read in
full pages. Media files come through the media service's presigned links (the service checks
that the object is the device's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import grpc
import httpx

from privacy.export.source import AccountNotFound
from trackstream.alarm.v1 import alarm_service_pb2 as alarm_pb
from trackstream.alarm.v1 import alarm_service_pb2_grpc as alarm_grpc
from trackstream.alarm.v1.geofence_pb2 import Geofence, Rule
from trackstream.history.v1 import history_service_pb2 as history_pb
from trackstream.history.v1 import history_service_pb2_grpc as history_grpc
from trackstream.identity.v1 import identity_service_pb2 as identity_pb
from trackstream.identity.v1 import identity_service_pb2_grpc as identity_grpc
from trackstream.media.v1 import media_service_pb2 as media_pb
from trackstream.media.v1 import media_service_pb2_grpc as media_grpc
from trackstream.media.v1.media_pb2 import MediaObject
from trackstream.notification.v1 import notification_service_pb2 as notification_pb
from trackstream.notification.v1 import notification_service_pb2_grpc as notification_grpc
from trackstream_events.timestamps import to_timestamp

#: one request spans at most this (the services cap a range at 31 days)
WINDOW = timedelta(days=30)
#: windows probed at the same time
PROBES = 16
TRACK_PAGE = 10_000
ALARM_PAGE = 1000
MEDIA_PAGE = 1000
#: identity's GetDevices takes at most this many ids
DEVICE_BATCH = 1000
#: a service call that takes longer than this fails the export
CALL_TIMEOUT_S = 60.0

Page = TypeVar("Page")


def windows(earliest: date, latest: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) windows of at most ``WINDOW`` covering ``earliest`` 00:00 UTC to ``latest``."""
    start = datetime.combine(earliest, time(), tzinfo=UTC)
    spans = []
    while start < latest:
        end = min(start + WINDOW, latest)
        spans.append((start, end))
        start = end
    return spans


class ServiceCollectors:
    """``privacy.export.source.AccountData`` over the services' gRPC APIs."""

    def __init__(
        self,
        *,
        identity: str,
        history: str,
        alarm: str,
        media: str,
        notification: str,
        earliest_day: date,
        future_days: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._channels = {
            name: grpc.aio.insecure_channel(address)
            for name, address in {
                "identity": identity,
                "history": history,
                "alarm": alarm,
                "media": media,
                "notification": notification,
            }.items()
        }
        self._identity = identity_grpc.IdentityServiceStub(self._channels["identity"])
        self._history = history_grpc.HistoryServiceStub(self._channels["history"])
        self._alarm = alarm_grpc.AlarmServiceStub(self._channels["alarm"])
        self._media = media_grpc.MediaServiceStub(self._channels["media"])
        self._notification = notification_grpc.NotificationServiceStub(
            self._channels["notification"]
        )
        self._earliest = earliest_day
        self._future = timedelta(days=future_days)
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=CALL_TIMEOUT_S)

    async def close(self) -> None:
        await self._http.aclose()
        for channel in self._channels.values():
            await channel.close()

    # --- identity ------------------------------------------------------------------------

    async def account(self, account_id: str) -> identity_pb.Account:
        try:
            account: identity_pb.Account = await self._identity.GetAccount(
                identity_pb.GetAccountRequest(account_id=account_id), timeout=CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise AccountNotFound(account_id) from None
            raise
        return account

    async def api_keys(self, account_id: str) -> Sequence[identity_pb.ApiKey]:
        response = await self._identity.ListApiKeys(
            identity_pb.ListApiKeysRequest(account_id=account_id), timeout=CALL_TIMEOUT_S
        )
        return list(response.keys)

    async def devices(self, device_ids: Sequence[str]) -> Sequence[identity_pb.Device]:
        found: list[identity_pb.Device] = []
        for i in range(0, len(device_ids), DEVICE_BATCH):
            response = await self._identity.GetDevices(
                identity_pb.GetDevicesRequest(device_ids=device_ids[i : i + DEVICE_BATCH]),
                timeout=CALL_TIMEOUT_S,
            )
            found += response.devices
        return found

    # --- history and alarm: windows -------------------------------------------------------

    def _windows(self) -> list[tuple[datetime, datetime]]:
        return windows(self._earliest, self._clock() + self._future)

    async def _walk(
        self,
        fetch: Callable[[datetime, datetime, int, str], Awaitable[tuple[Sequence[Page], str]]],
        page_size: int,
    ) -> AsyncIterator[Sequence[Page]]:
        """Every page of every window, in time order: windows probed ``PROBES`` at a time."""
        spans = self._windows()
        for i in range(0, len(spans), PROBES):
            batch = spans[i : i + PROBES]
            probes = await asyncio.gather(*(fetch(s, e, 1, "") for s, e in batch))
            for (start, end), (first, _) in zip(batch, probes, strict=True):
                if not first:
                    continue
                token = ""
                while True:
                    page, token = await fetch(start, end, page_size, token)
                    if page:
                        yield page
                    if not token:
                        break

    async def positions(self, device_id: str) -> AsyncIterator[Sequence[history_pb.TrackPoint]]:
        async def fetch(
            start: datetime, end: datetime, size: int, token: str
        ) -> tuple[Sequence[history_pb.TrackPoint], str]:
            response = await self._history.GetTrack(
                history_pb.GetTrackRequest(
                    device_id=device_id,
                    start_time=to_timestamp(start),
                    end_time=to_timestamp(end),
                    page_size=size,
                    page_token=token,
                ),
                timeout=CALL_TIMEOUT_S,
            )
            return response.points, response.next_page_token

        async for page in self._walk(fetch, TRACK_PAGE):
            yield page

    async def alarms(self, device_id: str) -> AsyncIterator[Sequence[alarm_pb.AlarmRecord]]:
        async def fetch(
            start: datetime, end: datetime, size: int, token: str
        ) -> tuple[Sequence[alarm_pb.AlarmRecord], str]:
            response = await self._alarm.ListAlarms(
                alarm_pb.ListAlarmsRequest(
                    device_id=device_id,
                    start_time=to_timestamp(start),
                    end_time=to_timestamp(end),
                    page_size=size,
                    page_token=token,
                ),
                timeout=CALL_TIMEOUT_S,
            )
            return response.alarms, response.next_page_token

        async for page in self._walk(fetch, ALARM_PAGE):
            yield page

    async def geofences(self, account_id: str) -> Sequence[Geofence]:
        response = await self._alarm.ListGeofences(
            alarm_pb.ListRequest(account_id=account_id), timeout=CALL_TIMEOUT_S
        )
        return list(response.geofences)

    async def rules(self, account_id: str) -> Sequence[Rule]:
        response = await self._alarm.ListRules(
            alarm_pb.ListRequest(account_id=account_id), timeout=CALL_TIMEOUT_S
        )
        return list(response.rules)

    # --- media ---------------------------------------------------------------------------

    async def media(self, device_id: str) -> AsyncIterator[Sequence[MediaObject]]:
        # the catalogue has no range cap: one range over everything, paged
        start = datetime.combine(self._earliest, time(), tzinfo=UTC)
        end = self._clock() + self._future
        token = ""
        while True:
            response = await self._media.ListMedia(
                media_pb.ListMediaRequest(
                    device_id=device_id,
                    start_time=to_timestamp(start),
                    end_time=to_timestamp(end),
                    page_size=MEDIA_PAGE,
                    page_token=token,
                ),
                timeout=CALL_TIMEOUT_S,
            )
            if response.objects:
                yield response.objects
            token = response.next_page_token
            if not token:
                return

    async def media_content(self, device_id: str, media_id: str) -> AsyncIterator[bytes]:
        link = await self._media.GetDownloadUrl(
            media_pb.GetDownloadUrlRequest(device_id=device_id, media_id=media_id),
            timeout=CALL_TIMEOUT_S,
        )
        async with self._http.stream("GET", link.url) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes(1 << 16):
                yield chunk

    # --- notification --------------------------------------------------------------------

    async def subscriptions(self, account_id: str) -> Sequence[notification_pb.Subscription]:
        response = await self._notification.ListSubscriptions(
            notification_pb.ListSubscriptionsRequest(account_id=account_id),
            timeout=CALL_TIMEOUT_S,
        )
        return list(response.subscriptions)

    async def deliveries(self, account_id: str) -> Sequence[notification_pb.Delivery]:
        response = await self._notification.ListDeliveries(
            notification_pb.ListDeliveriesRequest(account_id=account_id),
            timeout=CALL_TIMEOUT_S,
        )
        return list(response.deliveries)

    async def inbox(self, account_id: str) -> Sequence[notification_pb.InboxEntry]:
        response = await self._notification.ListInbox(
            notification_pb.ListInboxRequest(account_id=account_id), timeout=CALL_TIMEOUT_S
        )
        return list(response.entries)
