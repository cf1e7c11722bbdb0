"""In-app notifications on the live WebSocket: every gateway instance reads
``notification.inbox.v1`` from its latest offsets (outside any consumer group, like the device
streams) and hands each entry to the sockets of the account it is for, and only to them."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from gateway.adapters.live import LiveHub
from gateway.domain import access
from gateway.domain.directory import Directory
from gateway.domain.render import iso_or_none
from trackstream.notification.v1 import notification_pb2
from trackstream_events.envelope import Envelope
from trackstream_kafka.sealing import DataKeys, Shredded, keys_for_records, open_record
from trackstream_kafka.settings import KafkaSettings
from trackstream_kafka.table import reader_of
from trackstream_obs.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)

INBOX_TOPIC = "notification.inbox.v1"
INBOX_TYPE = notification_pb2.InboxNotificationAdded.DESCRIPTOR.full_name
_SHREDDED = EVENTS_CONSUMED.labels(INBOX_TOPIC, "gateway-inbox", "skipped_shredded")


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
    consumer = await reader_of(settings, [INBOX_TOPIC], client_id)
    try:
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, not at the first fetch
            await consumer.position(tp)
        started.set()
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            keys = await keys_for_records(data_keys, batch.values())
            for records in batch.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        envelope = Envelope.from_headers(record.headers)
                        hand_over(
                            hub,
                            directory,
                            envelope.type,
                            record.value,
                            functools.partial(
                                open_record,
                                record=record,
                                event_id=envelope.id,
                                keys=keys,
                                data_keys=data_keys,
                            ),
                        )
                    except Shredded:
                        EVENTS_CONSUMED.labels(
                            INBOX_TOPIC, "gateway-inbox", "skipped_shredded"
                        ).inc()
                    except Exception:
                        log.warning("unreadable inbox record skipped")
    finally:
        await consumer.stop()
