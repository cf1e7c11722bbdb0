"""One alarm on the real Kafka and Cassandra: e-mails to a real SMTP server, signed webhooks to
a real HTTP receiver, exactly once, retries, dead letters, quiet hours, rate limits."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import grpc
import pytest

from notification.domain.model import verify_signature
from services.notification.tests.integration.conftest import (
    Mailbox,
    NotificationRunner,
    Receiver,
    Route,
    alarm,
    eventually,
    publish_alarms,
    register_device,
    stub,
)
from trackstream.notification.v1 import notification_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb

SECRET = "whsec-0123456789abcdef"


def webhook_sub(account: str, url: str, **fields) -> pb.CreateSubscriptionRequest:
    return pb.CreateSubscriptionRequest(
        subscription=pb.Subscription(
            account_id=account,
            channels=[pb.CHANNEL_WEBHOOK],
            webhook_url=url,
            webhook_secret=SECRET,
            **fields,
        )
    )


async def test_one_alarm_one_email_and_one_signed_webhook_per_matching_subscription(
    notification_service: NotificationRunner, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    mailbox, _ = smtp
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        both = await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_EMAIL, pb.CHANNEL_WEBHOOK, pb.CHANNEL_IN_APP],
                    email_addresses=[f"ops-{account}@example.com"],
                    webhook_url=f"{receiver.url}/ok/{account}",
                    webhook_secret=SECRET,
                    time_zone="Europe/Berlin",
                )
            )
        )
        assert both.webhook_secret == ""  # write-only
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/ok2/{account}"))
        # another type: no match
        await api.CreateSubscription(
            webhook_sub(account, f"{receiver.url}/never/{account}", alarm_types=[103])
        )
        raised = alarm(device, account, datetime(2026, 7, 1, 10, 0, tzinfo=UTC))
        await publish_alarms([raised])

        await eventually(lambda: len(receiver.accepted) >= 2 and mailbox.to(account))
        deliveries = await eventually(lambda: _sent(api, account, 4))
        assert len(deliveries) == 4
        # the e-mail: one, with the place and the local time
        (mail,) = mailbox.to(account)
        payload = mail.get_payload(decode=True)
        assert isinstance(payload, bytes)
        text = payload.decode()
        assert "2026-07-01 12:00:00 CEST" in str(text)
        assert "52.52000, 13.40500" in str(text)
        # the webhooks: one per subscription, signature verifies with the secret
        paths = sorted(r.path.split("/")[1] for r in receiver.accepted)
        assert paths == ["ok", "ok2"]
        for request in receiver.accepted:
            assert verify_signature(
                SECRET,
                request.headers["x-trackstream-signature"],
                request.body,
                now=int(time.time()),
            )
            body = json.loads(request.body)
            assert body["alarm_id"] == raised.alarm_id
            assert body["type"] == "ALARM_TYPE_SOS"
        # in-app: in the inbox, unread, then read
        inbox = await api.ListInbox(pb.ListInboxRequest(account_id=account))
        assert [e.alarm_id for e in inbox.entries] == [raised.alarm_id]
        assert not inbox.entries[0].read
        await api.MarkInboxRead(
            pb.MarkInboxReadRequest(
                account_id=account, notification_ids=[inbox.entries[0].notification_id]
            )
        )
        unread = await api.ListInbox(pb.ListInboxRequest(account_id=account, unread_only=True))
        assert list(unread.entries) == []

        # the same alarm again (a replay): nothing more
        await publish_alarms([raised])
        marker = alarm(device, account)
        await publish_alarms([marker])
        await eventually(lambda: len(mailbox.to(account)) == 2)
        await eventually(lambda: len(receiver.accepted) == 4)
        assert len([r for r in receiver.accepted if raised.alarm_id in r.body.decode()]) == 2
    finally:
        await channel.close()


async def _sent(api, account: str, count: int) -> list[pb.Delivery] | None:
    answer = await api.ListDeliveries(
        pb.ListDeliveriesRequest(account_id=account, state=pb.DELIVERY_STATE_SENT)
    )
    return list(answer.deliveries) if len(answer.deliveries) >= count else None


async def test_retries_dead_letters_and_redelivery(
    notification_service: NotificationRunner, receiver: Receiver
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    receiver.routes["/flaky"] = Route(fail_first=3)
    receiver.routes["/down"] = Route(status=503)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        flaky = await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/flaky"))
        down = await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/down"))
        raised = alarm(device, account)
        await publish_alarms([raised])

        async def outcome(sub_id: str, state: int) -> pb.Delivery | None:
            answer = await api.ListDeliveries(
                pb.ListDeliveriesRequest(account_id=account, subscription_id=sub_id)
            )
            found = [d for d in answer.deliveries if d.state == state]
            return found[0] if found else None

        sent = await eventually(lambda: outcome(flaky.subscription_id, pb.DELIVERY_STATE_SENT))
        assert sent.attempts == 4
        assert len([r for r in receiver.accepted if r.path == "/flaky"]) == 1
        assert len([r for r in receiver.received if r.path == "/flaky"]) == 4
        dead = await eventually(lambda: outcome(down.subscription_id, pb.DELIVERY_STATE_DEAD))
        assert dead.attempts == 4
        assert dead.last_error == "webhook answered 503"
        by_state = await api.ListDeliveries(
            pb.ListDeliveriesRequest(account_id=account, state=pb.DELIVERY_STATE_DEAD)
        )
        assert [d.subscription_id for d in by_state.deliveries] == [down.subscription_id]

        # the receiver is back: redeliver on request
        receiver.routes["/down"] = Route()
        again = await api.RedeliverDelivery(
            pb.RedeliverDeliveryRequest(
                account_id=account,
                alarm_id=raised.alarm_id,
                subscription_id=down.subscription_id,
                channel=pb.CHANNEL_WEBHOOK,
            )
        )
        assert again.state in (pb.DELIVERY_STATE_PENDING, pb.DELIVERY_STATE_SENT)
        await eventually(lambda: outcome(down.subscription_id, pb.DELIVERY_STATE_SENT))
        assert len([r for r in receiver.accepted if r.path == "/down"]) == 1
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await api.RedeliverDelivery(
                pb.RedeliverDeliveryRequest(
                    account_id="someone-else",
                    alarm_id=raised.alarm_id,
                    subscription_id=down.subscription_id,
                    channel=pb.CHANNEL_WEBHOOK,
                )
            )
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()


async def test_quiet_hours_and_rate_limits_hold(
    notification_service: NotificationRunner, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        now_local = datetime.now(UTC)
        minute = now_local.hour * 60 + now_local.minute
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_EMAIL],
                    email_addresses=[f"quiet-{account}@example.com"],
                    quiet_hours=pb.QuietHours(
                        start_minute=(minute - 60) % 1440, end_minute=(minute + 60) % 1440
                    ),
                )
            )
        )
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_EMAIL],
                    email_addresses=[f"limited-{account}@example.com"],
                    rate_limits=[
                        pb.RateLimit(channel=pb.CHANNEL_EMAIL, max_count=2, window_s=3600)
                    ],
                )
            )
        )
        await publish_alarms([alarm(device, account) for _ in range(5)])

        async def settled() -> bool:
            answer = await api.ListDeliveries(pb.ListDeliveriesRequest(account_id=account))
            states = [d.state for d in answer.deliveries]
            return len(states) == 10 and states.count(pb.DELIVERY_STATE_SENT) == 2

        await eventually(settled)
        assert len(mailbox.to(f"limited-{account}")) == 2
        assert mailbox.to(f"quiet-{account}") == []
        suppressed = await api.ListDeliveries(
            pb.ListDeliveriesRequest(account_id=account, state=pb.DELIVERY_STATE_SUPPRESSED)
        )
        assert len(suppressed.deliveries) == 8
    finally:
        await channel.close()


async def test_a_10_s_receiver_delays_neither_email_nor_other_receivers(
    notification_service: NotificationRunner, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    mailbox, _ = smtp
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    receiver.routes["/slow"] = Route(delay_s=10.0)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/slow"))
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/fast"))
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(
                    account_id=account,
                    channels=[pb.CHANNEL_EMAIL],
                    email_addresses=[f"ops-{account}@example.com"],
                )
            )
        )
        alarms = [alarm(device, account) for _ in range(8)]
        started = time.monotonic()
        await publish_alarms(alarms)
        await eventually(
            lambda: (
                len([r for r in receiver.accepted if r.path == "/fast"]) == 8
                and len(mailbox.to(account)) == 8
            ),
            within=20,
        )
        elapsed = time.monotonic() - started
        assert elapsed < 8.0, elapsed  # the slow receiver answers its first after 10 s
        assert not [r for r in receiver.accepted if r.path == "/slow"]
    finally:
        await channel.close()


async def test_inbox_events_reach_the_topic_keyed_by_account(
    notification_service: NotificationRunner,
) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from trackstream_kafka import KafkaSettings

    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KafkaSettings().bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition("notification.inbox.v1", p) for p in range(3)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        app = await notification_service.start()
        channel, api = stub(app)
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(account_id=account, channels=[pb.CHANNEL_IN_APP])
            )
        )
        raised = alarm(device, account)
        await publish_alarms([raised])
        found: list[notification_pb2.InboxNotificationAdded] = []
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = notification_pb2.InboxNotificationAdded.FromString(record.value)
                    if event.account_id == account:
                        assert record.key == account.encode()
                        found.append(event)
        assert [e.alarm_id for e in found] == [raised.alarm_id]
        await channel.close()
    finally:
        await consumer.stop()


async def test_erasure_removes_subscriptions_inbox_and_log_and_is_idempotent(
    notification_service: NotificationRunner, receiver: Receiver
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/erase"))
        await api.CreateSubscription(
            pb.CreateSubscriptionRequest(
                subscription=pb.Subscription(account_id=account, channels=[pb.CHANNEL_IN_APP])
            )
        )
        await publish_alarms([alarm(device, account)])
        await eventually(lambda: _sent(api, account, 2))
        erased = await api.EraseAccount(pb.EraseAccountRequest(account_id=account))
        assert (erased.subscriptions_erased, erased.deliveries_erased) == (2, 2)
        assert erased.inbox_entries_erased == 1
        again = await api.EraseAccount(pb.EraseAccountRequest(account_id=account))
        assert (again.subscriptions_erased, again.deliveries_erased) == (0, 0)
        listed = await api.ListSubscriptions(pb.ListSubscriptionsRequest(account_id=account))
        assert list(listed.subscriptions) == []
        inbox = await api.ListInbox(pb.ListInboxRequest(account_id=account))
        assert list(inbox.entries) == []
        # a later alarm reaches no one
        await publish_alarms([alarm(device, account)])
        log = await api.ListDeliveries(pb.ListDeliveriesRequest(account_id=account))
        assert list(log.deliveries) == []
        await asyncio.sleep(0)
    finally:
        await channel.close()


async def test_command_results_reach_subscriptions_that_asked_for_them_once(
    notification_service: NotificationRunner, receiver: Receiver
) -> None:
    from trackstream.tracking.v1 import command_pb2
    from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing

    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    app = await notification_service.start()
    channel, api = stub(app)
    try:
        await api.CreateSubscription(
            webhook_sub(account, f"{receiver.url}/commands", command_results=True)
        )
        await api.CreateSubscription(webhook_sub(account, f"{receiver.url}/alarms-only"))
        result = command_pb2.CommandResult(
            command_id=str(uuid.uuid4()),
            device_id=device,
            status=command_pb2.COMMAND_STATUS_DELIVERED,
        )
        result.result_time.FromDatetime(datetime.now(UTC))
        publisher = EventPublisher.create(KafkaSettings(), source="/tests/ingest")
        await publisher.start()
        try:
            for _ in range(2):  # the second is a replay
                await publisher.publish_many(
                    [Outgoing("tracking.command-results.v1", result, key=device)]
                )
        finally:
            await publisher.stop()
        marker = alarm(device, account)
        await publish_alarms([marker])
        await eventually(lambda: any(r.path == "/alarms-only" for r in receiver.accepted))
        await eventually(lambda: len([r for r in receiver.accepted if r.path == "/commands"]) >= 2)
        commands = [json.loads(r.body) for r in receiver.accepted if r.path == "/commands"]
        assert sorted(c["event"] for c in commands) == ["alarm", "command_result"]
        (command,) = [c for c in commands if c["event"] == "command_result"]
        assert command["command_id"] == result.command_id
        assert command["status"] == "COMMAND_STATUS_DELIVERED"
        assert [r.path for r in receiver.accepted].count("/alarms-only") == 1
    finally:
        await channel.close()
