"""Notification's erasure on the real Cassandra: an account's subscriptions, deliveries and inbox
go; what another account holds about the account's device goes too (deliveries naming the
device, their inbox entries, the device in its subscription), while that account's other data
stays; every planned table is acknowledged; a second run deletes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from notification.bootstrap import NotificationApp, bootstrap
from notification.config import NotificationSettings
from notification.domain.model import Channel, DeliveryKey, Notice, State
from notification.erasure import PARTICIPANT
from privacy.domain.plan import PARTICIPANT_STORES
from tests.integration.helpers import apply_erasure, deleted_counts, erasure_order
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.privacy.v1.erasure_pb2 import SubjectKind

#: exactly what the privacy service expects notification to acknowledge
PLAN = set(PARTICIPANT_STORES["notification"])


@pytest.fixture
async def notification() -> AsyncIterator[NotificationApp]:
    app = bootstrap(
        NotificationSettings(consumer_group=f"notification-test-{uuid.uuid4().hex[:8]}")
    )
    yield app
    await app.http.aclose()
    await app.geocoder.close()
    app.cassandra.close()


async def _subscribe(app: NotificationApp, account: str, devices: list[str]) -> str:
    subscription = pb.Subscription(
        subscription_id=f"sub-{uuid.uuid4().hex[:10]}",
        account_id=account,
        device_ids=devices,
        channels=[pb.CHANNEL_IN_APP],
        email_addresses=[f"{account}@example.org"],
    )
    await app.store.put_subscription(subscription)
    app.subscriptions.put(subscription)
    return subscription.subscription_id


async def _deliver(
    app: NotificationApp, account: str, subscription_id: str, device: str, *, open_: bool
) -> DeliveryKey:
    """An in-app delivery of an alarm of ``device`` (retrying or sent), in the inbox."""
    key = DeliveryKey(f"alarm-{uuid.uuid4().hex[:10]}", subscription_id, Channel.IN_APP)
    now = datetime.now(UTC).replace(microsecond=0)
    notice = Notice(title=f"Alarm on {device}", body="Overspeed", document={"device_id": device})
    assert await app.store.claim(
        key, account_id=account, state=State.PENDING, notice=notice, now=now
    )
    # open: due in an hour (no sweeper of the running stack picks it up meanwhile); or sent
    await app.store.record_outcome(
        key,
        state=State.RETRYING if open_ else State.SENT,
        attempts=1,
        last_error="",
        next_attempt=now + timedelta(hours=1) if open_ else None,
        now=now,
    )
    await app.store.add_to_inbox(
        account_id=account,
        notification_id=f"n-{key.alarm_id}",
        created=now,
        alarm_id=key.alarm_id,
        subscription_id=subscription_id,
        title=notice.title,
        body=notice.body,
    )
    return key


async def _held(app: NotificationApp, account: str) -> tuple[int, int, int]:
    """(subscriptions, deliveries, inbox entries) of the account."""
    return (
        len(await app.store.account_subscriptions(account)),
        len(await app.store.account_deliveries(account)),
        len(await app.store.inbox(account, unread_only=False)),
    )


async def _open(app: NotificationApp, keys: list[DeliveryKey]) -> int:
    listed = {k for k, _ in await app.store.open_deliveries()}
    return sum(1 for k in keys if k in listed)


async def test_an_account_and_what_others_hold_about_its_device_are_erased(
    notification: NotificationApp,
) -> None:
    app = notification
    run = uuid.uuid4().hex[:8]
    erased, kept = f"acct-nerase-{run}", f"acct-nkeep-{run}"
    erased_device, kept_device = f"dev-nerase-{run}", f"dev-nkeep-{run}"
    own = await _subscribe(app, erased, [])
    erased_keys = [
        await _deliver(app, erased, own, erased_device, open_=True),
        await _deliver(app, erased, own, erased_device, open_=False),
    ]
    # the kept account watches both devices, and has an account-wide subscription
    watching = await _subscribe(app, kept, [erased_device, kept_device])
    wide = await _subscribe(app, kept, [])
    about_erased = await _deliver(app, kept, watching, erased_device, open_=True)
    kept_keys = [
        await _deliver(app, kept, watching, kept_device, open_=True),
        await _deliver(app, kept, wide, kept_device, open_=False),
    ]
    assert await _held(app, erased) == (1, 2, 2)
    assert await _held(app, kept) == (2, 3, 3)
    assert await _open(app, [*erased_keys, about_erased, *kept_keys]) == 3

    order = erasure_order(
        SubjectKind.SUBJECT_KIND_ACCOUNT,
        erased,
        device_ids=[erased_device],
        account_ids=[erased],
    )
    stores = await apply_erasure(PARTICIPANT, app.erasure.erase, order)

    assert set(stores) == PLAN
    assert deleted_counts(stores) == {
        "cassandra:notification_subscriptions": 1 + 1,  # its own; the kept one narrowed
        "cassandra:notification_deliveries": 2 + 1,
        "cassandra:notification_deliveries_by_account": 2 + 1,
        "cassandra:notification_open_deliveries": 1 + 1,
        "cassandra:notification_inbox": 2 + 1,
        "cassandra:notification_inbox_by_id": 2 + 1,
    }
    assert await _held(app, erased) == (0, 0, 0)
    assert await _open(app, [*erased_keys, about_erased]) == 0
    assert await app.store.delivery(about_erased) is None
    # the kept account: its subscriptions (one narrowed), its deliveries about its own device
    assert await _held(app, kept) == (2, 2, 2)
    assert await _open(app, kept_keys) == 1
    narrowed = app.subscriptions.get(watching)
    assert narrowed is not None and list(narrowed.device_ids) == [kept_device]
    stored = {s.subscription_id: s for s in await app.store.account_subscriptions(kept)}
    assert list(stored[watching].device_ids) == [kept_device]
    assert app.subscriptions.get(own) is None
    inbox = await app.store.inbox(kept, unread_only=False)
    assert {e.alarm_id for e in inbox} == {k.alarm_id for k in kept_keys}

    again = await apply_erasure(PARTICIPANT, app.erasure.erase, order)
    assert set(again) == PLAN
    assert set(deleted_counts(again).values()) == {0}
