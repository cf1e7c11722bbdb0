"""The processor and dispatcher with an in-memory delivery log and fake channels."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from notification.adapters.channels import DeliveryFailed
from notification.domain.model import Channel, DeliveryKey, Notice, State
from notification.handlers import AlarmProcessor, Directory, Dispatcher, Subscriptions, Sweeper
from services.notification.tests.unit.conftest import FakeStore
from trackstream.alarm.v1 import alarm_pb2
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream_kafka import ConsumedEvent


class FakeChannel:
    def __init__(self, channel: Channel, *, fail_times: int = 0, delay_s: float = 0.0) -> None:
        self.channel = channel
        self.fail_times = fail_times
        self.delay_s = delay_s
        self.sent: list[tuple[DeliveryKey, float]] = []
        self.tries = 0

    def receiver(self, subscription: pb.Subscription) -> str:
        return f"{self.channel.name}:{subscription.webhook_url}"

    async def send(self, key, subscription, notice: Notice, when: datetime) -> None:
        self.tries += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.tries <= self.fail_times:
            raise DeliveryFailed("receiver answered 500")
        self.sent.append((key, asyncio.get_running_loop().time()))


class NoPlaces:
    async def place(self, latitude: float, longitude: float) -> str:
        return "Somewhere"


def alarm(alarm_id: str, device_id: str = "dev-1", hour: int = 12) -> ConsumedEvent:
    message = alarm_pb2.AlarmRaised(
        alarm_id=alarm_id, device_id=device_id, type=alarm_pb2.ALARM_TYPE_SOS
    )
    message.alarm_time.FromDatetime(datetime(2026, 1, 15, hour, 0, tzinfo=UTC))
    event: ConsumedEvent = cast(Any, ConsumedEvent)(
        None, message, device_id, "alarm.alarms.v1", 0, 0
    )
    return event


def build(channels: list[FakeChannel], subscriptions: list[pb.Subscription], **kw: Any):
    store = FakeStore()
    subs = Subscriptions()
    subs.replace_all(subscriptions)
    directory = Directory()
    directory.device_changed("dev-1", DeviceRegistered(device_id="dev-1", owner_account_id="acc"))
    dispatcher = Dispatcher(
        store=cast(Any, store),
        subscriptions=subs,
        channels=cast(Any, channels),
        max_attempts=kw.get("max_attempts", 5),
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        channel_concurrency=8,
        receiver_concurrency=2,
    )
    processor = AlarmProcessor(
        store=cast(Any, store),
        subscriptions=subs,
        directory=directory,
        dispatcher=dispatcher,
        places=NoPlaces(),
    )
    return store, dispatcher, processor


def subscription(sid: str, channels: list[Any], **fields: Any) -> pb.Subscription:
    return pb.Subscription(subscription_id=sid, account_id="acc", channels=channels, **fields)


async def settle(store: FakeStore, dispatcher: Dispatcher) -> None:
    for _ in range(500):
        if not store.open and not dispatcher._tasks:
            return
        await asyncio.sleep(0.01)


async def test_a_replayed_alarm_is_delivered_once_per_subscription_and_channel() -> None:
    email, hook = FakeChannel(Channel.EMAIL), FakeChannel(Channel.WEBHOOK)
    store, dispatcher, processor = build(
        [email, hook],
        [
            subscription("s1", [pb.CHANNEL_EMAIL, pb.CHANNEL_WEBHOOK]),
            subscription("s2", [pb.CHANNEL_WEBHOOK]),
            subscription("other", [pb.CHANNEL_EMAIL], alarm_types=[alarm_pb2.ALARM_TYPE_OVERSPEED]),
        ],
    )
    await processor.handle([alarm("a1")])
    await processor.handle([alarm("a1"), alarm("a1")])  # replay
    await settle(store, dispatcher)
    assert sorted(k.subscription_id for k, _ in email.sent) == ["s1"]
    assert sorted(k.subscription_id for k, _ in hook.sent) == ["s1", "s2"]
    assert {r.state for r in store.deliveries.values()} == {State.SENT}


async def test_a_receiver_failing_three_times_gets_it_once_and_the_log_counts_attempts() -> None:
    hook = FakeChannel(Channel.WEBHOOK, fail_times=3)
    store, dispatcher, processor = build([hook], [subscription("s1", [pb.CHANNEL_WEBHOOK])])
    await processor.handle([alarm("a1")])
    await settle(store, dispatcher)
    assert len(hook.sent) == 1
    (record,) = store.deliveries.values()
    assert (record.state, record.attempts) == (State.SENT, 4)


async def test_a_receiver_always_failing_ends_dead() -> None:
    hook = FakeChannel(Channel.WEBHOOK, fail_times=10**6)
    store, dispatcher, processor = build(
        [hook], [subscription("s1", [pb.CHANNEL_WEBHOOK])], max_attempts=3
    )
    await processor.handle([alarm("a1")])
    await settle(store, dispatcher)
    (record,) = store.deliveries.values()
    assert (record.state, record.attempts, hook.tries) == (State.DEAD, 3, 3)
    assert record.last_error == "receiver answered 500"
    assert not store.open


async def test_quiet_hours_and_rate_limits_suppress_and_are_logged() -> None:
    email = FakeChannel(Channel.EMAIL)
    store, dispatcher, processor = build(
        [email],
        [
            subscription(
                "quiet",
                [pb.CHANNEL_EMAIL],
                quiet_hours=pb.QuietHours(start_minute=660, end_minute=780),
            ),
            subscription(
                "limited",
                [pb.CHANNEL_EMAIL],
                rate_limits=[pb.RateLimit(channel=pb.CHANNEL_EMAIL, max_count=2, window_s=3600)],
            ),
        ],
    )
    await processor.handle([alarm(f"a{i}") for i in range(5)])  # 12:00 UTC: inside 11:00-13:00
    await settle(store, dispatcher)
    sent = [k.subscription_id for k, _ in email.sent]
    assert sent.count("quiet") == 0
    assert sent.count("limited") == 2
    suppressed = [r for r in store.deliveries.values() if r.state is State.SUPPRESSED]
    assert len(suppressed) == 5 + 3


async def test_a_slow_receiver_delays_nothing_else() -> None:
    slow = FakeChannel(Channel.WEBHOOK, delay_s=1.0)
    email = FakeChannel(Channel.EMAIL)

    class TwoReceivers(FakeChannel):
        """Webhooks: the slow receiver and a fast one, told apart by URL."""

        async def send(self, key, subscription, notice, when) -> None:
            if "slow" in subscription.webhook_url:
                await slow.send(key, subscription, notice, when)
            else:
                self.sent.append((key, asyncio.get_running_loop().time()))

    hooks = TwoReceivers(Channel.WEBHOOK)
    store, dispatcher, processor = build(
        [hooks, email],
        [
            subscription("slow", [pb.CHANNEL_WEBHOOK], webhook_url="https://slow.example/h"),
            subscription(
                "fast", [pb.CHANNEL_WEBHOOK, pb.CHANNEL_EMAIL], webhook_url="https://fast.example/h"
            ),
        ],
    )
    started = asyncio.get_running_loop().time()
    await processor.handle([alarm(f"a{i}") for i in range(6)])
    # 6 slow deliveries, 2 at a time per receiver: the slow one needs 3 s
    for _ in range(300):
        if len(hooks.sent) == 6 and len(email.sent) == 6:
            break
        await asyncio.sleep(0.01)
    fast_done = max(t for _, t in hooks.sent + email.sent) - started
    assert fast_done < 0.5
    assert len(slow.sent) < 6
    await settle(store, dispatcher)
    assert len(slow.sent) == 6


async def test_the_sweeper_sends_what_a_previous_run_claimed_but_did_not_send() -> None:
    email = FakeChannel(Channel.EMAIL)
    store, dispatcher, _ = build([email], [subscription("s1", [pb.CHANNEL_EMAIL])])
    key = DeliveryKey("a1", "s1", Channel.EMAIL)
    await store.claim(
        key,
        account_id="acc",
        state=State.PENDING,
        notice=Notice("t", "b", {}),
        now=datetime.now(UTC),
    )
    subs = Subscriptions()
    sweeper = Sweeper(store=cast(Any, store), subscriptions=subs, dispatcher=dispatcher)
    store.all_subscriptions = _returning([subscription("s1", [pb.CHANNEL_EMAIL])])
    dispatcher._subscriptions = subs
    assert await sweeper.sweep_once() == 1
    await settle(store, dispatcher)
    assert [k for k, _ in email.sent] == [key]


def _returning(value: list[pb.Subscription]):
    async def get() -> list[pb.Subscription]:
        return value

    return get


async def test_command_results_go_once_to_subscriptions_that_asked_for_them() -> None:
    from trackstream.tracking.v1 import command_pb2

    hook = FakeChannel(Channel.WEBHOOK)
    store, dispatcher, processor = build(
        [hook],
        [
            subscription("wants", [pb.CHANNEL_WEBHOOK], command_results=True),
            subscription("alarms-only", [pb.CHANNEL_WEBHOOK]),
        ],
    )
    result = command_pb2.CommandResult(
        command_id="cmd-1", device_id="dev-1", status=command_pb2.COMMAND_STATUS_DELIVERED
    )
    event: ConsumedEvent = cast(Any, ConsumedEvent)(
        None, result, "dev-1", "tracking.command-results.v1", 0, 0
    )
    await processor.handle([event])
    await processor.handle([event])  # replay
    await settle(store, dispatcher)
    assert [k.subscription_id for k, _ in hook.sent] == ["wants"]
    (record,) = store.deliveries.values()
    assert record.key.alarm_id == "command:cmd-1:COMMAND_STATUS_DELIVERED"
    assert record.notice.document["event"] == "command_result"
    assert record.notice.title == "Command delivered on dev-1"


def media_event(media_id: str, device_id: str = "dev-1") -> ConsumedEvent:
    from trackstream.media.v1 import media_pb2
    from trackstream.tracking.v1 import media_pb2 as tracking_media_pb2

    stored = media_pb2.MediaStored(
        device_id=device_id,
        object=media_pb2.MediaObject(
            media_id=media_id,
            device_id=device_id,
            media_type=tracking_media_pb2.MEDIA_TYPE_IMAGE,
            content_type="image/jpeg",
            size_bytes=2048,
            alarm_id="alarm-9",
        ),
    )
    stored.stored_time.FromDatetime(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    stored.object.captured_time.FromDatetime(datetime(2026, 1, 15, 11, 59, 30, tzinfo=UTC))
    event: ConsumedEvent = cast(Any, ConsumedEvent)(
        None, stored, device_id, "media.objects.v1", 0, 0
    )
    return event


async def test_stored_media_go_once_per_channel_to_subscriptions_that_asked_for_media() -> None:
    hook, inbox = FakeChannel(Channel.WEBHOOK), FakeChannel(Channel.IN_APP)
    store, dispatcher, processor = build(
        [hook, inbox],
        [
            subscription("wants", [pb.CHANNEL_WEBHOOK, pb.CHANNEL_IN_APP], media=True),
            subscription("alarms-only", [pb.CHANNEL_WEBHOOK]),
            subscription("other-device", [pb.CHANNEL_WEBHOOK], media=True, device_ids=["dev-2"]),
            subscription("off", [pb.CHANNEL_WEBHOOK], media=True, disabled=True),
        ],
    )
    await processor.handle([media_event("m-1"), media_event("m-1")])  # a duplicate in the batch
    await processor.handle([media_event("m-1")])  # and a replay
    await settle(store, dispatcher)
    assert [k.subscription_id for k, _ in hook.sent] == ["wants"]
    assert [k.subscription_id for k, _ in inbox.sent] == ["wants"]
    assert {k.channel for k in store.deliveries} == {Channel.WEBHOOK, Channel.IN_APP}
    record = store.deliveries[DeliveryKey("media:m-1", "wants", Channel.WEBHOOK)]
    assert record.state is State.SENT
    assert record.notice.title == "Photo from dev-1"
    assert record.notice.document["media_id"] == "m-1"
    assert record.notice.document["alarm_id"] == "alarm-9"
    assert record.notice.document["captured_time"] == "2026-01-15T11:59:30+00:00"
    # an alarm does not go to a subscription because it asked for media
    await processor.handle([alarm("a-1")])
    await settle(store, dispatcher)
    assert sorted(k.alarm_id for k, _ in hook.sent) == ["a-1", "a-1", "media:m-1"]


async def test_media_respect_quiet_hours() -> None:
    hook = FakeChannel(Channel.WEBHOOK)
    store, dispatcher, processor = build(
        [hook],
        [
            subscription(
                "night",
                [pb.CHANNEL_WEBHOOK],
                media=True,
                quiet_hours=pb.QuietHours(start_minute=11 * 60, end_minute=13 * 60),
            )
        ],
    )
    await processor.handle([media_event("m-2")])
    await settle(store, dispatcher)
    assert hook.sent == []
    (record,) = store.deliveries.values()
    assert record.state is State.SUPPRESSED


async def test_a_fresh_claim_is_sent_without_reading_its_record_back() -> None:
    hook = FakeChannel(Channel.WEBHOOK)
    store, dispatcher, processor = build([hook], [subscription("s", [pb.CHANNEL_WEBHOOK])])
    reads: list[DeliveryKey] = []
    read = store.delivery

    async def counted(key: DeliveryKey) -> Any:
        reads.append(key)
        return await read(key)

    store.delivery = counted
    await processor.handle([alarm("a-fresh")])
    await settle(store, dispatcher)
    assert [k.alarm_id for k, _ in hook.sent] == ["a-fresh"]
    assert reads == []
    (record,) = store.deliveries.values()
    assert record.state is State.SENT and record.attempts == 1


async def test_a_subscription_made_through_another_replica_is_looked_up_not_called_gone() -> None:
    """This replica has not reloaded since another one created the subscription and claimed a
    delivery of it: the delivery is sent, not ended dead; one whose subscription is gone from
    the store too ends dead."""
    hook = FakeChannel(Channel.WEBHOOK)
    store, dispatcher, _ = build([hook], [])  # nothing in this replica's memory
    store.subscriptions["elsewhere"] = subscription("elsewhere", [pb.CHANNEL_WEBHOOK])
    now = datetime.now(UTC)
    known = DeliveryKey("a1", "elsewhere", Channel.WEBHOOK)
    gone = DeliveryKey("a1", "deleted", Channel.WEBHOOK)
    for key in (known, gone):
        await store.claim(
            key, account_id="acc", state=State.PENDING, notice=Notice("t", "b", {}), now=now
        )
        dispatcher.submit(key)
    await settle(store, dispatcher)
    assert [k for k, _ in hook.sent] == [known]
    assert store.deliveries[known].state is State.SENT
    assert store.deliveries[gone].state is State.DEAD
