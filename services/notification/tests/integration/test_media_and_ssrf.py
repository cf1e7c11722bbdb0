"""Media-ready events from media.objects.v1, exactly once per (media, subscription, channel),
and webhook URLs refused (server-side request forgery) over the real gRPC API, Kafka and
Cassandra."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import grpc
import pytest

from services.notification.tests.integration.conftest import (
    NotificationRunner,
    Receiver,
    alarm,
    eventually,
    publish_alarms,
    register_device,
    stub,
)
from services.notification.tests.integration.test_delivery import SECRET, webhook_sub
from trackstream.media.v1 import media_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.tracking.v1 import media_pb2 as tracking_media_pb2
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing


def stored(device_id: str, account_id: str) -> media_pb2.MediaStored:
    event = media_pb2.MediaStored(
        device_id=device_id,
        object=media_pb2.MediaObject(
            media_id=str(uuid.uuid4()),
            device_id=device_id,
            media_type=tracking_media_pb2.MEDIA_TYPE_VIDEO,
            content_type="video/mp4",
            size_bytes=123_456,
            account_id=account_id,
        ),
    )
    event.stored_time.FromDatetime(datetime.now(UTC))
    event.object.captured_time.CopyFrom(event.stored_time)
    return event


async def test_stored_media_reach_subscriptions_that_asked_for_them_once(
    notification_service: NotificationRunner, receiver: Receiver
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        wants = await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_WEBHOOK, pb.CHANNEL_IN_APP],
                    webhook_url=f"{receiver.url}/media",
                    webhook_secret=SECRET,
                    media=True,
                )
            )
        )
        assert wants.media
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/alarms-only"))
        event = stored(device, account)
        publisher = EventPublisher.create(KafkaSettings(), source="/tests/media")
        await publisher.start()
        try:
            for _ in range(2):  # the second is a replay
                await publisher.publish_many([Outgoing("media.objects.v1", event, key=device)])
        finally:
            await publisher.stop()
        marker = alarm(device, account)
        await publish_alarms([marker])  # after both: when it arrived, the replay was handled
        await eventually(lambda: [r.path for r in receiver.accepted].count("/alarms-only") == 1)
        await eventually(lambda: [r.path for r in receiver.accepted].count("/media") >= 2)
        bodies = [json.loads(r.body) for r in receiver.accepted if r.path == "/media"]
        media = [b for b in bodies if b["event"] == "media_stored"]
        assert len(media) == 1, bodies
        assert media[0]["media_id"] == event.object.media_id
        assert media[0]["media_type"] == "video"
        inbox = await api.ListInbox(pb.ListInboxRequest(account_id=account))
        titles = sorted(e.title for e in inbox.entries)
        assert titles[-1] == f"Video from {device}", titles
        deliveries = await api.ListDeliveries(
            pb.ListDeliveriesRequest(account_id=account, alarm_id=f"media:{event.object.media_id}")
        )
        assert sorted(d.channel for d in deliveries.deliveries) == [
            pb.CHANNEL_IN_APP,
            pb.CHANNEL_WEBHOOK,
        ]
    finally:
        await channel.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
        "http://hooks.example.com/hook",  # plain http, not allowed here
    ],
)
async def test_webhooks_to_non_public_addresses_are_invalid_arguments(
    notification_service: NotificationRunner, url: str
) -> None:
    app = await notification_service.start(webhook_allow_http=False, webhook_allowed_networks="")
    channel, api = stub(app)
    account = f"acc-{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.CreateSubscription(webhook_sub(account, url))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "webhook_url" in (refused.value.details() or "")
        listed = await api.ListSubscriptions(pb.ListSubscriptionsRequest(account_id=account))
        assert list(listed.subscriptions) == []  # nothing saved
    finally:
        await channel.close()


async def test_marking_a_foreign_inbox_entry_is_not_found_and_changes_nothing(
    notification_service: NotificationRunner,
) -> None:
    account, other = f"acc-{uuid.uuid4().hex[:8]}", f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(account_id=account, channels=[pb.CHANNEL_IN_APP])
            )
        )
        await publish_alarms([alarm(device, account)])

        async def entries() -> list[pb.InboxEntry]:
            return list((await api.ListInbox(pb.ListInboxRequest(account_id=account))).entries)

        (entry,) = await eventually(entries)
        for who, ids in ((other, [entry.notification_id]), (account, [entry.notification_id, "x"])):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await api.MarkInboxRead(
                    pb.MarkInboxReadRequest(account_id=who, notification_ids=ids)
                )
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert not (await entries())[0].read
        await api.MarkInboxRead(
            pb.MarkInboxReadRequest(account_id=account, notification_ids=[entry.notification_id])
        )
        assert (await entries())[0].read
    finally:
        await channel.close()
