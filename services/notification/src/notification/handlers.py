"""From alarms to claimed deliveries, and from claimed deliveries to receivers.

The consumer's batch handler claims every delivery of its alarms (LWT in Cassandra) and returns;
only then does the consumer commit the offsets. Claimed deliveries go to the :class:`Dispatcher`,
which sends them with a bound per channel and per receiver, records each outcome, and schedules
retries; the :class:`Sweeper` picks up whatever is due from Cassandra (after a restart too)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from prometheus_client import Counter, Histogram

from notification.adapters.channels import ChannelAdapter, DeliveryFailed
from notification.adapters.store import DeliveryRecord, NotificationStore
from notification.domain.model import (
    Channel,
    DeliveryKey,
    Notice,
    RateLimiter,
    State,
    SubscriptionScope,
    after_failure,
    backoff_s,
    in_quiet_hours,
    matches,
    zone_of,
)
from notification.domain.templates import coordinates, local_time, render
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.media.v1 import media_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.tracking.v1 import command_pb2
from trackstream.tracking.v1 import media_pb2 as tracking_media_pb2
from trackstream_kafka import ConsumedEvent, RetryableError

log = logging.getLogger("notification")

ALARMS = "alarm.alarms.v1"
COMMAND_RESULTS = "tracking.command-results.v1"
MEDIA = "media.objects.v1"
ACCOUNTS = "identity.accounts.v1"
REGISTRY = "identity.device-registry.v1"

DELIVERIES = Counter(
    "trackstream_notification_deliveries_total",
    "delivery outcomes by channel",
    ["channel", "outcome"],
)
ALARM_TO_DELIVERY = Histogram(
    "trackstream_notification_alarm_to_delivery_seconds",
    "from the alarm event's time to the receiver's acceptance",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


class Directory:
    """Device owners and the account tree, from identity's compacted topics."""

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._ancestors: dict[str, tuple[str, ...]] = {}

    def device_changed(self, device_id: str, value: DeviceRegistered | None) -> None:
        if value is None or not value.owner_account_id:
            self._owners.pop(device_id, None)
        else:
            self._owners[device_id] = value.owner_account_id

    def account_changed(self, account_id: str, value: AccountChanged | None) -> None:
        if value is None:
            self._ancestors.pop(account_id, None)
        else:
            self._ancestors[account_id] = tuple(value.ancestor_account_ids)

    def owner_of(self, device_id: str) -> str:
        return self._owners.get(device_id, "")

    def ancestors_of(self, account_id: str) -> tuple[str, ...]:
        return self._ancestors.get(account_id, ())


class Subscriptions:
    """Every subscription in memory, by id; written through by the API, reloaded by the sweeper
    (other instances' changes)."""

    def __init__(self) -> None:
        self._by_id: dict[str, pb.Subscription] = {}

    def replace_all(self, subscriptions: list[pb.Subscription]) -> None:
        self._by_id = {s.subscription_id: s for s in subscriptions}

    def put(self, subscription: pb.Subscription) -> None:
        self._by_id[subscription.subscription_id] = subscription

    def remove(self, subscription_id: str) -> None:
        self._by_id.pop(subscription_id, None)

    def get(self, subscription_id: str) -> pb.Subscription | None:
        return self._by_id.get(subscription_id)

    def all(self) -> list[pb.Subscription]:
        return list(self._by_id.values())


class PlaceFinder(Protocol):
    async def place(self, latitude: float, longitude: float) -> str: ...


def _now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Sends claimed deliveries: at most ``channel_concurrency`` per channel and
    ``receiver_concurrency`` per receiver at once, so a slow receiver only holds its own slots."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        subscriptions: Subscriptions,
        channels: list[ChannelAdapter],
        max_attempts: int,
        backoff_base_s: float,
        backoff_max_s: float,
        channel_concurrency: int,
        receiver_concurrency: int,
        lease_s: float = 60.0,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._lease_s = lease_s
        self._subscriptions = subscriptions
        self._channels = {c.channel: c for c in channels}
        self._max_attempts = max_attempts
        self._base_s, self._max_s = backoff_base_s, backoff_max_s
        self._channel_slots = {c: asyncio.Semaphore(channel_concurrency) for c in Channel}
        self._receiver_concurrency = receiver_concurrency
        self._receiver_slots: dict[str, asyncio.Semaphore] = {}
        self._in_flight: set[DeliveryKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[DeliveryKey, asyncio.TimerHandle] = {}
        self._now = now

    def submit(self, key: DeliveryKey, known: DeliveryRecord | None = None) -> None:
        """Send it now, unless this process is already sending it. ``known``: the record as
        just claimed, which spares reading it back (the attempt's compare-and-set still
        decides who sends)."""
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        task = asyncio.create_task(self._deliver(key, known))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def in_flight(self, key: DeliveryKey) -> bool:
        return key in self._in_flight or key in self._timers

    def _schedule(self, key: DeliveryKey, delay_s: float) -> None:
        loop = asyncio.get_running_loop()
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.submit(key)

        self._timers[key] = loop.call_later(delay_s, fire)

    async def drain(self, timeout_s: float) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def _deliver(self, key: DeliveryKey, known: DeliveryRecord | None = None) -> None:
        try:
            record = known or await self._store.delivery(key)
            if record is None or record.state not in (State.PENDING, State.RETRYING):
                if record is not None:
                    await self._store.close(key)  # a stale work-list row
                return
            subscription = self._subscriptions.get(key.subscription_id)
            if subscription is None:
                # created through another replica since this one last reloaded: ask the store
                # before calling it gone (else that replica's fresh delivery would end dead)
                subscription = await self._stored_subscription(record)
            adapter = self._channels.get(key.channel)
            if subscription is None or adapter is None:
                await self._fail(record, "subscription or channel gone", permanent=True)
                return
            lease_until = self._now() + timedelta(seconds=self._lease_s)
            if not await self._store.start_attempt(
                key, attempts=record.attempts, lease_until=lease_until
            ):
                return  # another replica, or a redelivery, took this attempt
            receiver = adapter.receiver(subscription)
            slot = self._receiver_slots.setdefault(
                receiver, asyncio.Semaphore(self._receiver_concurrency)
            )
            async with self._channel_slots[key.channel], slot:
                try:
                    await adapter.send(key, subscription, record.notice, _alarm_time(record))
                except DeliveryFailed as err:
                    await self._fail(record, err.reason, permanent=err.permanent)
                    return
            now = self._now()
            await self._store.record_outcome(
                key,
                state=State.SENT,
                attempts=record.attempts + 1,
                last_error="",
                next_attempt=None,
                now=now,
            )
            DELIVERIES.labels(key.channel.name, "sent").inc()
            ALARM_TO_DELIVERY.labels(key.channel.name).observe(
                max(0.0, (now - _alarm_time(record)).total_seconds())
            )
        except Exception:
            # the store is down: the work-list row stays, the sweeper tries again
            log.exception("delivery attempt failed", extra={"channel": key.channel.name})
        finally:
            self._in_flight.discard(key)

    async def _stored_subscription(self, record: DeliveryRecord) -> pb.Subscription | None:
        for subscription in await self._store.account_subscriptions(record.account_id):
            if subscription.subscription_id == record.key.subscription_id:
                self._subscriptions.put(subscription)
                return subscription
        return None

    async def _fail(self, record: DeliveryRecord, reason: str, *, permanent: bool) -> None:
        attempts = record.attempts + 1
        state = State.DEAD if permanent else after_failure(attempts, self._max_attempts)
        now = self._now()
        delay = backoff_s(attempts, base_s=self._base_s, max_s=self._max_s)
        next_attempt = now + timedelta(seconds=delay) if state is State.RETRYING else None
        await self._store.record_outcome(
            record.key,
            state=state,
            attempts=attempts,
            last_error=reason[:500],
            next_attempt=next_attempt,
            now=now,
        )
        DELIVERIES.labels(record.key.channel.name, state.name.lower()).inc()
        log.info(
            "delivery failed",
            extra={"channel": record.key.channel.name, "attempts": attempts, "state": state.name},
        )
        if state is State.RETRYING:
            self._schedule(record.key, delay)


def _alarm_time(record: DeliveryRecord) -> datetime:
    raw = record.notice.document.get("alarm_time")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(raw)
    return record.updated or _now()


class AlarmProcessor:
    """The consumer's batch handler: every matching (subscription, channel) of every alarm is
    claimed in the delivery log (suppressed ones too, so a replay decides nothing again), and
    the claimed ones are handed to the dispatcher."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        subscriptions: Subscriptions,
        directory: Directory,
        dispatcher: Dispatcher,
        places: PlaceFinder,
        default_time_zone: str = "UTC",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._directory = directory
        self._dispatcher = dispatcher
        self._places = places
        self._default_zone = default_time_zone
        self._limiter = RateLimiter(clock)
        self._now = now

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    async def handle(self, events: list[ConsumedEvent]) -> None:
        alarms = [e.message for e in events if isinstance(e.message, alarm_pb2.AlarmRaised)]
        results = [e.message for e in events if isinstance(e.message, command_pb2.CommandResult)]
        media = [e.message for e in events if isinstance(e.message, media_pb2.MediaStored)]
        try:
            claimed = await asyncio.gather(
                *(self._claim_alarm(a) for a in alarms),
                *(self._claim_command_result(r) for r in results),
                *(self._claim_media(m) for m in media),
            )
        except (DriverException, NoHostAvailable) as err:
            # nothing committed: the batch comes again, and claims already made hold
            raise RetryableError(f"delivery log unavailable: {type(err).__name__}") from err
        for records in claimed:
            for record in records:
                self._dispatcher.submit(record.key, record)

    async def _claim_alarm(self, alarm: alarm_pb2.AlarmRaised) -> list[DeliveryRecord]:
        owner = alarm.owner_account_id or self._directory.owner_of(alarm.device_id)
        ancestors = self._directory.ancestors_of(owner)
        concerned = [
            s
            for s in self._subscriptions.all()
            if matches(
                s,
                alarm_type=int(alarm.type),
                device_id=alarm.device_id,
                owner_account_id=owner,
                owner_ancestors=ancestors,
            )
        ]
        if not concerned:
            return []
        when = (
            alarm.alarm_time.ToDatetime(tzinfo=UTC) if alarm.HasField("alarm_time") else self._now()
        )
        place = ""
        if alarm.HasField("fix") and (alarm.fix.latitude or alarm.fix.longitude):
            place = await self._places.place(alarm.fix.latitude, alarm.fix.longitude)
        claims = []
        for subscription in concerned:
            zone = zone_of(subscription.time_zone, self._default_zone)
            title, body = render(
                alarm_type=int(alarm.type),
                device_label=alarm.device_id,
                when=when,
                zone=zone,
                place=place,
                locale=subscription.locale,
            )
            notice = Notice(
                title=title, body=body, document=_document(alarm, when, place, zone.key)
            )
            quiet = in_quiet_hours(subscription.quiet_hours, when, zone)
            for channel in dict.fromkeys(Channel(c) for c in subscription.channels):
                key = DeliveryKey(alarm.alarm_id, subscription.subscription_id, channel)
                state = State.PENDING
                if quiet or not self._limiter.allow(subscription, channel):
                    state = State.SUPPRESSED
                claims.append((key, subscription.account_id, state, notice))
        return await self._claim_all(claims)

    async def _claim_all(
        self, claims: list[tuple[DeliveryKey, str, State, Notice]]
    ) -> list[DeliveryRecord]:
        """The records of the deliveries claimed first here and to be sent."""
        now = self._now()
        results = await asyncio.gather(
            *(
                self._store.claim(k, account_id=a, state=s, notice=n, now=now)
                for k, a, s, n in claims
            )
        )
        fresh = []
        for (key, account_id, state, notice), first in zip(claims, results, strict=True):
            if first and state is State.PENDING:
                fresh.append(DeliveryRecord(key, account_id, state, 0, "", now, now, notice))
            elif first:
                DELIVERIES.labels(key.channel.name, "suppressed").inc()
        return fresh

    async def _claim_command_result(
        self, result: command_pb2.CommandResult
    ) -> list[DeliveryRecord]:
        """A command's result, once per (command, status, subscription, channel), to the
        subscriptions that asked for command results of the device."""
        owner = self._directory.owner_of(result.device_id)
        ancestors = self._directory.ancestors_of(owner)
        concerned = [
            s
            for s in self._subscriptions.all()
            if s.command_results
            and not s.disabled
            and SubscriptionScope.covers(
                s, device_id=result.device_id, owner_account_id=owner, owner_ancestors=ancestors
            )
        ]
        if not concerned:
            return []
        when = (
            result.result_time.ToDatetime(tzinfo=UTC)
            if result.HasField("result_time")
            else self._now()
        )
        status = command_pb2.CommandStatus.Name(result.status)
        label = status.removeprefix("COMMAND_STATUS_").replace("_", " ").lower()

        def notice(zone: ZoneInfo) -> Notice:
            return Notice(
                title=f"Command {label} on {result.device_id}",
                body=f"Command {result.command_id} {label} on {result.device_id} at "
                f"{local_time(when, zone)}.",
                document={
                    "event": "command_result",
                    "command_id": result.command_id,
                    "device_id": result.device_id,
                    "status": status,
                    "result_time": when.isoformat(),
                    "alarm_time": when.isoformat(),
                    "time_zone": zone.key,
                    "reply_text": result.reply_text,
                },
            )

        return await self._claim_event(
            f"command:{result.command_id}:{status}", concerned, when, notice
        )

    async def _claim_media(self, stored: media_pb2.MediaStored) -> list[DeliveryRecord]:
        """Stored media, once per (media, subscription, channel), to the subscriptions that
        asked for media of the device."""
        media = stored.object
        device_id = stored.device_id or media.device_id
        owner = media.account_id or self._directory.owner_of(device_id)
        ancestors = self._directory.ancestors_of(owner)
        concerned = [
            s
            for s in self._subscriptions.all()
            if s.media
            and not s.disabled
            and SubscriptionScope.covers(
                s, device_id=device_id, owner_account_id=owner, owner_ancestors=ancestors
            )
        ]
        if not media.media_id or not concerned:
            return []
        when = (
            stored.stored_time.ToDatetime(tzinfo=UTC)
            if stored.HasField("stored_time")
            else self._now()
        )
        captured = (
            media.captured_time.ToDatetime(tzinfo=UTC) if media.HasField("captured_time") else when
        )
        kind = tracking_media_pb2.MediaType.Name(media.media_type).removeprefix("MEDIA_TYPE_")
        label = {"IMAGE": "Photo", "VIDEO": "Video", "AUDIO": "Audio"}.get(kind, "Media")

        def notice(zone: ZoneInfo) -> Notice:
            return Notice(
                title=f"{label} from {device_id}",
                body=f"{label} from {device_id} taken at {local_time(captured, zone)} is ready.",
                document={
                    "event": "media_stored",
                    "media_id": media.media_id,
                    "device_id": device_id,
                    "media_type": kind.lower(),
                    "content_type": media.content_type,
                    "size_bytes": media.size_bytes,
                    "captured_time": captured.isoformat(),
                    "stored_time": when.isoformat(),
                    "alarm_time": when.isoformat(),
                    "time_zone": zone.key,
                    "alarm_id": media.alarm_id,
                    "command_id": media.command_id,
                },
            )

        return await self._claim_event(f"media:{media.media_id}", concerned, when, notice)

    async def _claim_event(
        self,
        event_id: str,
        concerned: list[pb.Subscription],
        when: datetime,
        notice_in: Callable[[ZoneInfo], Notice],
    ) -> list[DeliveryRecord]:
        """Claims of one event (not an alarm) for each concerned (subscription, channel), the
        event's id standing where an alarm's id stands in the delivery log."""
        claims = []
        for subscription in concerned:
            zone = zone_of(subscription.time_zone, self._default_zone)
            notice = notice_in(zone)
            quiet = in_quiet_hours(subscription.quiet_hours, when, zone)
            for channel in dict.fromkeys(Channel(c) for c in subscription.channels):
                key = DeliveryKey(event_id, subscription.subscription_id, channel)
                state = State.PENDING
                if quiet or not self._limiter.allow(subscription, channel):
                    state = State.SUPPRESSED
                claims.append((key, subscription.account_id, state, notice))
        return await self._claim_all(claims)


def _document(
    alarm: alarm_pb2.AlarmRaised, when: datetime, place: str, zone: str
) -> dict[str, object]:
    document: dict[str, object] = {
        "event": "alarm",
        "alarm_id": alarm.alarm_id,
        "device_id": alarm.device_id,
        "account_id": alarm.owner_account_id,
        "type": alarm_pb2.AlarmType.Name(alarm.type),
        "severity": alarm_pb2.Severity.Name(alarm.severity),
        "alarm_time": when.isoformat(),
        "time_zone": zone,
        "place": place,
    }
    if alarm.HasField("fix"):
        document["latitude"] = alarm.fix.latitude
        document["longitude"] = alarm.fix.longitude
        document["coordinates"] = coordinates(alarm.fix.latitude, alarm.fix.longitude)
    if alarm.details:
        document["details"] = dict(alarm.details)
    return document


class Sweeper:
    """Due deliveries from Cassandra's work list, and the subscriptions reloaded: after a
    restart this is what sends the pending and retrying deliveries of the previous run."""

    def __init__(
        self,
        *,
        store: NotificationStore,
        subscriptions: Subscriptions,
        dispatcher: Dispatcher,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._dispatcher = dispatcher
        self._now = now

    async def sweep_once(self) -> int:
        self._subscriptions.replace_all(await self._store.all_subscriptions())
        now = self._now()
        picked = 0
        for key, due in await self._store.open_deliveries():
            if due <= now and not self._dispatcher.in_flight(key):
                self._dispatcher.submit(key)
                picked += 1
        return picked

    async def run(self, stopping: asyncio.Event, interval_s: float) -> None:
        while not stopping.is_set():
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
