"""In-app notifications on the live WebSocket: every gateway instance reads
``notification.inbox.v1`` from its latest offsets (outside any consumer group, like the device
streams) and hands each entry to the sockets of the account it is for, and only to them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from aiokafka import ConsumerRecord
from google.protobuf.message import Message

from gateway.adapters.live import LiveHub
from gateway.domain import access
from gateway.domain.directory import Directory
from gateway.domain.render import iso_or_none
from trackstream.notification.v1 import notification_pb2
from trackstream_events.envelope import Envelope
from trackstream_kafka.follow import Opener, follow
from trackstream_kafka.sealing import DataKeys
from trackstream_kafka.settings import KafkaSettings

INBOX_TOPIC = "notification.inbox.v1"
INBOX_TYPE = notification_pb2.InboxNotificationAdded.DESCRIPTOR.full_name


def live_inbox(event: notification_pb2.InboxNotificationAdded) -> dict[str, Any]:
    """The WebSocket message of a new inbox entry (``type`` "notification")."""
    return {
        "type": "notification",
        "notification_id": event.notification_id,
        "subscription_id": f"{event.account_id}.{event.subscription_id}",
        "alarm_id": event.alarm_id,
        "device_id": event.device_id or None,
        "title": event.title,
        "body": event.body,
        "read": False,
        "created_time": iso_or_none(event.created_time, event.HasField("created_time")),
    }


def hand_over(
    hub: LiveHub,
    directory: Directory,
    type_name: str,
    value: bytes,
    opened: Callable[[Message], None] | None = None,
) -> bool:
    """One record to the sockets of its account; False when it goes nowhere. ``opened`` opens
    a sealed record's fields into the decoded event (the shared opener)."""
    if type_name != INBOX_TYPE:
        return False
    event = notification_pb2.InboxNotificationAdded.FromString(value)
    if opened is not None:
        opened(event)
    if not event.account_id or not access.is_active(directory, event.account_id):
        return False
    hub.publish_to_account(event.account_id, live_inbox(event))
    return True


def _to_account(
    hub: LiveHub,
    directory: Directory,
    record: ConsumerRecord[bytes, bytes],
    envelope: Envelope,
    opened: Opener,
) -> None:
    hand_over(hub, directory, envelope.type, record.value or b"", opened)


async def run_inbox_feed(
    settings: KafkaSettings,
    hub: LiveHub,
    directory: Directory,
    stopping: asyncio.Event,
    started: asyncio.Event,
    *,
    client_id: str,
    data_keys: DataKeys | None,
) -> None:
    """The inbox topic from its end; sealed entries opened with ``data_keys`` (those of an
    erased account skipped, as every consumer does)."""
    await follow(
        settings,
        [INBOX_TOPIC],
        functools.partial(_to_account, hub, directory),
        stopping,
        started,
        client_id=client_id,
        label="gateway-inbox",
        data_keys=data_keys,
    )
