"""Exactly once across a restart mid-stream: the service stops (SIGTERM-style: the batch in hand
is committed, sends in flight finish) while retries are scheduled and alarms are still coming,
and some alarms come twice; the next run (same group) delivers each one exactly once, the
scheduled retries included (from Cassandra's work list, not from memory)."""

from __future__ import annotations

import json
import uuid
from collections import Counter

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
from trackstream.notification.v1 import notification_service_pb2 as pb

ALARMS = 60


async def test_restart_mid_stream_delivers_each_alarm_exactly_once(
    notification_service: NotificationRunner, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    mailbox, _ = smtp
    account = f"acc-{uuid.uuid4().hex[:8]}"
    device = await register_device(account)
    # the first answers fail: those deliveries wait for a retry 5 s off when the stop comes
    receiver.routes["/hook"] = Route(fail_first=5)
    first = await notification_service.start(backoff_base_s=5.0, backoff_max_s=5.0)
    channel, api = stub(first)
    await api.CreateSubscription(
        pb.CreateSubscriptionRequest(
            subscription=pb.Subscription(
                account_id=account,
                channels=[pb.CHANNEL_EMAIL, pb.CHANNEL_WEBHOOK],
                email_addresses=[f"ops-{account}@example.com"],
                webhook_url=f"{receiver.url}/hook",
                webhook_secret="whsec-0123456789abcdef",
            )
        )
    )
    await channel.close()
    alarms = [alarm(device, account) for _ in range(ALARMS)]
    await publish_alarms(alarms[: ALARMS // 2])
    await eventually(lambda: len(receiver.accepted) >= ALARMS // 2 - 5)

    async def retrying() -> int:
        log = await api.ListDeliveries(
            pb.ListDeliveriesRequest(account_id=account, state=pb.DELIVERY_STATE_RETRYING)
        )
        return len(log.deliveries)

    channel, api = stub(first)
    assert await retrying() == 5
    await channel.close()
    await notification_service.stop(first)
    assert len(receiver.accepted) == ALARMS // 2 - 5
    await publish_alarms(alarms[ALARMS // 2 :])
    # the same alarms once more (a producer retry, a replay)
    await publish_alarms(alarms[:10])

    second = await notification_service.start(backoff_base_s=0.2)
    await eventually(lambda: len(receiver.accepted) >= ALARMS, within=60)
    await eventually(lambda: len(mailbox.to(account)) >= ALARMS, within=60)
    channel, api = stub(second)
    try:

        async def all_sent() -> bool:
            log = await api.ListDeliveries(pb.ListDeliveriesRequest(account_id=account))
            return len(log.deliveries) == 2 * ALARMS and all(
                d.state == pb.DELIVERY_STATE_SENT for d in log.deliveries
            )

        await eventually(all_sent, within=30)
    finally:
        await channel.close()
    ids = {a.alarm_id for a in alarms}
    hooks = Counter(r.headers["x-trackstream-delivery"] for r in receiver.accepted)
    assert len(hooks) == ALARMS and set(hooks.values()) == {1}
    mails = Counter(str(m["Message-ID"]) for m in mailbox.to(account))
    assert len(mails) == ALARMS and set(mails.values()) == {1}
    assert {json.loads(r.body)["alarm_id"] for r in receiver.accepted} == ids
