"""Live fan-out: every gateway instance reads the device streams and the platform alarms of
alarm.alarms.v1 from their latest offsets (outside any consumer group, so each instance sees
everything) and hands each message to the WebSockets allowed to see its device. A socket that
cannot keep up loses messages (counted), never memory: each has a bounded queue."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge

from gateway.domain import render
from trackstream.alarm.v1 import alarm_pb2 as platform_alarm_pb2
from trackstream.tracking.v1 import alarm_pb2, device_pb2, position_pb2
from trackstream_events.envelope import Envelope
from trackstream_events.registry import EventRegistry
from trackstream_kafka.follow import Opener, follow
from trackstream_kafka.sealing import DataKeys
from trackstream_kafka.settings import KafkaSettings

log = logging.getLogger(__name__)

LIVE_TOPICS = (
    "tracking.positions.v1",
    "tracking.device-status.v1",
    "tracking.device-alarms.v1",
    "tracking.device-sessions.v1",
    "alarm.alarms.v1",
)
LIVE_SENT = Counter("trackstream_gateway_live_messages_total", "Live messages queued to sockets")
LIVE_DROPPED = Counter(
    "trackstream_gateway_live_dropped_total", "Live messages dropped for sockets that lag behind"
)
LIVE_SOCKETS = Gauge("trackstream_gateway_live_sockets", "Open live WebSockets")

_RENDER: dict[type[Any], Callable[[Any], render.JSON]] = {
    position_pb2.PositionReported: render.live_position,
    device_pb2.DeviceStatusReported: render.live_status,
    alarm_pb2.DeviceAlarmReported: render.live_alarm,
    device_pb2.DeviceConnected: render.live_session,
    device_pb2.DeviceDisconnected: render.live_session,
    platform_alarm_pb2.AlarmRaised: render.live_platform_alarm,
}
_REGISTRY = EventRegistry(*_RENDER)


class Subscription:
    def __init__(
        self,
        sees: Callable[[str], bool],
        credential_id: str,
        size: int,
        account_id: str | None = None,
    ) -> None:
        self.sees = sees
        self.credential_id = credential_id
        #: whose in-app notifications the socket carries (None: nobody's, e.g. share links)
        self.account_id = account_id
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        self.close_reason: str | None = None

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
            LIVE_SENT.inc()
        except asyncio.QueueFull:
            self.dropped += 1
            LIVE_DROPPED.inc()

    def close(self, reason: str) -> None:
        """Wake the socket with a sentinel; it closes with ``reason``."""
        self.close_reason = reason
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


class LiveHub:
    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._subscriptions: set[Subscription] = set()

    def subscribe(
        self, sees: Callable[[str], bool], credential_id: str, account_id: str | None = None
    ) -> Subscription:
        subscription = Subscription(sees, credential_id, self._queue_size, account_id)
        self._subscriptions.add(subscription)
        LIVE_SOCKETS.set(len(self._subscriptions))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        LIVE_SOCKETS.set(len(self._subscriptions))

    def publish(self, device_id: str, message: render.JSON) -> None:
        text: str | None = None
        for subscription in list(self._subscriptions):
            if subscription.close_reason is None and subscription.sees(device_id):
                text = text or json.dumps(message, separators=(",", ":"))
                subscription.offer(text)

    def publish_to_account(self, account_id: str, message: render.JSON) -> None:
        """A message for one account's own sockets (in-app notifications)."""
        text: str | None = None
        for subscription in list(self._subscriptions):
            if subscription.close_reason is None and subscription.account_id == account_id:
                text = text or json.dumps(message, separators=(",", ":"))
                subscription.offer(text)

    def credential_revoked(self, credential_id: str) -> None:
        for subscription in list(self._subscriptions):
            if subscription.credential_id == credential_id:
                subscription.close("credential revoked")

    def close_all(self, reason: str) -> None:
        for subscription in list(self._subscriptions):
            subscription.close(reason)


def message_of(
    type_name: str, value: bytes, opened: Callable[[Message], None] | None = None
) -> tuple[str, render.JSON] | None:
    """(device id, JSON) of one record; None for a type the WebSocket does not carry.
    ``opened`` opens a sealed record's fields into the decoded event (the shared opener)."""
    if type_name not in _REGISTRY:
        return None
    event = _REGISTRY.decode(type_name, value)
    if opened is not None:
        opened(event)
    if (
        isinstance(event, platform_alarm_pb2.AlarmRaised)
        and event.origin != platform_alarm_pb2.ALARM_ORIGIN_PLATFORM
    ):
        # device alarms come straight from tracking.device-alarms.v1 (origin "device"),
        # without waiting for the alarm service: alarm.alarms.v1 repeats them, normalised
        return None
    return getattr(event, "device_id", ""), _RENDER[type(event)](event)


def _to_sockets(
    hub: LiveHub, record: ConsumerRecord[bytes, bytes], envelope: Envelope, opened: Opener
) -> None:
    found = message_of(envelope.type, record.value or b"", opened)
    if found is not None and found[0]:
        hub.publish(*found)


async def run_live_feed(
    settings: KafkaSettings,
    hub: LiveHub,
    stopping: asyncio.Event,
    started: asyncio.Event,
    *,
    client_id: str,
    data_keys: DataKeys | None,
) -> None:
    """Every live topic from its end, outside any group; sealed records are opened with the
    process's ``data_keys`` (those of an erased subject are skipped, as in every consumer)."""
    await follow(
        settings,
        LIVE_TOPICS,
        functools.partial(_to_sockets, hub),
        stopping,
        started,
        client_id=client_id,
        label="gateway-live",
        data_keys=data_keys,
    )
