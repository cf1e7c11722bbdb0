"""Notification subscriptions, the delivery log and the in-app inbox, from the notification
service.

Subscriptions belong to an account; their ids as the API shows them are ``<account id>.<id>``,
so the gateway authorises the account before it asks notification. Any caller manages the
subscriptions of its own account (a read-only API key only reads them); those of the other
accounts of its subtree need ADMIN. Devices named must be visible to the caller and owned in the
subscription's account subtree, groups must be accounts of that subtree (else 404). The webhook
secret is write-only: never returned. The delivery log is read like the subscriptions;
redelivering needs OPERATOR or ADMIN. The inbox is the caller's own: nobody reads or marks
another account's inbox (its entries also arrive on ``/v1/live`` as ``"notification"``)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from gateway.api.alarms import ALARM_TYPES, split_owned
from gateway.api.problems import Problem, not_found
from gateway.api.schemas import Strict
from gateway.api.security import CallerDep, gateway_of
from gateway.context import GatewayContext
from gateway.domain import access, render
from gateway.domain.access import Need
from gateway.domain.model import Caller
from gateway.domain.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BadPageToken,
    decode_token,
    encode_token,
    page_after,
)
from trackstream.notification.v1 import notification_service_pb2 as pb

router = APIRouter(prefix="/v1")

CHANNELS = {
    "in_app": pb.CHANNEL_IN_APP,
    "email": pb.CHANNEL_EMAIL,
    "webhook": pb.CHANNEL_WEBHOOK,
    "push": pb.CHANNEL_PUSH,
}
CHANNEL_NAMES = {v: k for k, v in CHANNELS.items()}
PROVIDERS = {
    "fcm": pb.PUSH_PROVIDER_FCM,
    "apns": pb.PUSH_PROVIDER_APNS,
    "jpush": pb.PUSH_PROVIDER_JPUSH,
}
PROVIDER_NAMES = {v: k for k, v in PROVIDERS.items()}
STATES = {
    "pending": pb.DELIVERY_STATE_PENDING,
    "sent": pb.DELIVERY_STATE_SENT,
    "retrying": pb.DELIVERY_STATE_RETRYING,
    "dead": pb.DELIVERY_STATE_DEAD,
    "suppressed": pb.DELIVERY_STATE_SUPPRESSED,
}
STATE_NAMES = {v: k for k, v in STATES.items()}

ChannelName = Literal["in_app", "email", "webhook", "push"]
ProviderName = Literal["fcm", "apns", "jpush"]
StateName = Literal["pending", "sent", "retrying", "dead", "suppressed"]
AccountId = Annotated[str, Field(min_length=1, max_length=64)]
MAX_WINDOW_S = 30 * 86400


# ---------------------------------------------------------------------- bodies


class PushTokenBody(Strict):
    provider: ProviderName
    token: str = Field(min_length=1, max_length=4096)


class QuietHoursBody(Strict):
    """Minutes after local midnight; start > end spans midnight; start == end: none."""

    start_minute: int = Field(ge=0, le=1439)
    end_minute: int = Field(ge=0, le=1439)


class RateLimitBody(Strict):
    channel: ChannelName
    max_count: int = Field(ge=1, le=1_000_000)
    window_s: int = Field(ge=1, le=MAX_WINDOW_S)


class SubscriptionUpdate(Strict):
    #: alarm types (e.g. overspeed, sos); empty: every type
    alarm_types: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None, max_length=len(ALARM_TYPES)
    )
    #: devices; empty together with group_account_ids: every device of the account's subtree
    device_ids: list[AccountId] | None = Field(default=None, max_length=1000)
    #: groups: the devices of these accounts and the accounts below them
    group_account_ids: list[AccountId] | None = Field(default=None, max_length=100)
    channels: list[ChannelName] | None = Field(default=None, min_length=1, max_length=4)
    email_addresses: list[Annotated[str, Field(min_length=3, max_length=254)]] | None = Field(
        default=None, max_length=20
    )
    #: https only, to a public address (checked by notification, again at each send)
    webhook_url: str | None = Field(default=None, max_length=2048)
    #: write-only: never returned; at least 16 characters; omitted on update: kept
    webhook_secret: str | None = Field(default=None, min_length=16, max_length=256)
    push_tokens: list[PushTokenBody] | None = Field(default=None, max_length=20)
    #: IANA zone of the quiet hours and of the times in messages (default UTC)
    time_zone: str | None = Field(default=None, max_length=64)
    quiet_hours: QuietHoursBody | None = None
    rate_limits: list[RateLimitBody] | None = Field(default=None, max_length=4)
    #: language of the messages: en (default) or de
    locale: str | None = Field(default=None, max_length=35)
    disabled: bool | None = None
    #: also the results of commands sent to the covered devices
    command_results: bool | None = None
    #: also the photos and videos the covered devices store
    media: bool | None = None


class SubscriptionCreate(SubscriptionUpdate):
    #: default: the caller's account
    account_id: AccountId | None = None
    channels: list[ChannelName] | None = Field(min_length=1, max_length=4)


class InboxMark(Strict):
    notification_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=500
    )
    #: false marks them unread again
    read: bool = True


# ---------------------------------------------------------------------- JSON


def subscription_json(s: pb.Subscription) -> dict[str, Any]:
    quiet = s.quiet_hours
    return {
        "subscription_id": render.owned_id(s.account_id, s.subscription_id),
        "account_id": s.account_id,
        "alarm_types": [render.alarm_type_name(t) for t in s.alarm_types],
        "device_ids": list(s.device_ids),
        "group_account_ids": list(s.group_account_ids),
        "channels": [CHANNEL_NAMES.get(c, "unspecified") for c in s.channels],
        "email_addresses": list(s.email_addresses),
        "webhook_url": s.webhook_url or None,
        "push_tokens": [
            {"provider": PROVIDER_NAMES.get(t.provider, "unspecified"), "token": t.token}
            for t in s.push_tokens
        ],
        "time_zone": s.time_zone or None,
        "quiet_hours": (
            {"start_minute": quiet.start_minute, "end_minute": quiet.end_minute}
            if quiet.start_minute != quiet.end_minute
            else None
        ),
        "rate_limits": [
            {
                "channel": CHANNEL_NAMES.get(r.channel, "unspecified"),
                "max_count": r.max_count,
                "window_s": r.window_s,
            }
            for r in s.rate_limits
        ],
        "locale": s.locale or "en",
        "disabled": s.disabled,
        "command_results": s.command_results,
        "media": s.media,
    }


def delivery_id(d: pb.Delivery) -> str:
    """Opaque: the account, subscription, event and channel a redelivery needs."""
    key = [d.account_id, d.subscription_id, d.alarm_id, int(d.channel)]
    return encode_token("delivery", json.dumps(key, separators=(",", ":")))


def delivery_json(d: pb.Delivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id(d),
        "account_id": d.account_id,
        "subscription_id": render.owned_id(d.account_id, d.subscription_id),
        #: the alarm's id; "command:<id>:<status>" and "media:<id>" for the other events
        "alarm_id": d.alarm_id,
        "channel": CHANNEL_NAMES.get(d.channel, "unspecified"),
        "state": STATE_NAMES.get(d.state, "unspecified"),
        "attempts": d.attempts,
        "last_error": d.last_error or None,
        "next_attempt_time": render.iso_or_none(
            d.next_attempt_time, d.HasField("next_attempt_time")
        ),
        "updated_time": render.iso_or_none(d.updated_time, d.HasField("updated_time")),
    }


def inbox_json(e: pb.InboxEntry) -> dict[str, Any]:
    return {
        "notification_id": e.notification_id,
        "alarm_id": e.alarm_id,
        "title": e.title,
        "body": e.body,
        "read": e.read,
        "created_time": render.iso_or_none(e.created_time, e.HasField("created_time")),
    }


# ---------------------------------------------------------------------- rules


def check_subscriber(context: GatewayContext, caller: Caller, account_id: str) -> None:
    """May the caller change the subscriptions of ``account_id``: its own account with any
    role (not through a read-only key), another account of its subtree as ADMIN."""
    own = account_id == caller.account_id
    access.check_account(context.directory, caller, account_id, Need.READ if own else Need.MANAGE)
    if caller.read_only:
        raise access.Forbidden("a read-only API key cannot change subscriptions")


def _apply(
    context: GatewayContext, caller: Caller, s: pb.Subscription, body: SubscriptionUpdate
) -> None:
    directory = context.directory
    if body.alarm_types is not None:
        unknown = [t for t in body.alarm_types if t not in ALARM_TYPES]
        if unknown:
            raise Problem(422, f"unknown alarm type {unknown[0][:40]!r}", slug="invalid-argument")
        s.alarm_types[:] = list(dict.fromkeys(ALARM_TYPES[t] for t in body.alarm_types))
    if body.device_ids is not None:
        wanted = list(dict.fromkeys(body.device_ids))
        for device_id in wanted:
            device = access.check_device(directory, caller, device_id, Need.READ, context.clock())
            # an account hears only about the devices of its own subtree
            if not access.in_subtree(directory, s.account_id, device.owner_account_id):
                raise access.NotVisible(device_id)
        s.device_ids[:] = wanted
    if body.group_account_ids is not None:
        groups = list(dict.fromkeys(body.group_account_ids))
        for group in groups:
            if group not in directory.accounts or not access.in_subtree(
                directory, s.account_id, group
            ):
                raise access.NotVisible(group)
        s.group_account_ids[:] = groups
    if body.channels is not None:
        s.channels[:] = list(dict.fromkeys(CHANNELS[c] for c in body.channels))
    if body.email_addresses is not None:
        s.email_addresses[:] = body.email_addresses
    if body.push_tokens is not None:
        del s.push_tokens[:]
        s.push_tokens.extend(
            pb.PushToken(provider=PROVIDERS[t.provider], token=t.token) for t in body.push_tokens
        )
    if body.quiet_hours is not None:
        s.quiet_hours.CopyFrom(
            pb.QuietHours(
                start_minute=body.quiet_hours.start_minute, end_minute=body.quiet_hours.end_minute
            )
        )
    if body.rate_limits is not None:
        del s.rate_limits[:]
        s.rate_limits.extend(
            pb.RateLimit(
                channel=CHANNELS[r.channel],
                max_count=r.max_count,
                window_s=r.window_s,
            )
            for r in body.rate_limits
        )
    for name in ("webhook_url", "webhook_secret", "time_zone", "locale"):
        value = getattr(body, name)
        if value is not None:
            setattr(s, name, value)
    for name in ("disabled", "command_results", "media"):
        value = getattr(body, name)
        if value is not None:
            setattr(s, name, value)


def _owned(
    request: Request, caller: Caller, subscription_id: str
) -> tuple[GatewayContext, str, str]:
    """(context, account id, notification's id) of a subscription id whose account the caller
    reaches; 404 otherwise, before notification is asked."""
    context = gateway_of(request)
    account_id, own_id = split_owned(subscription_id, "subscription")
    access.check_account(context.directory, caller, account_id, Need.READ)
    return context, account_id, own_id


def _page(keys: list[str], kind: str, page_size: int, page_token: str) -> tuple[list[str], Any]:
    after = decode_token(kind, page_token) if page_token else None
    page, last = page_after(keys, after, page_size)
    return page, encode_token(kind, last) if last else None


# ---------------------------------------------------------------------- subscriptions

PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
PageToken = Annotated[str, Query(max_length=512)]


@router.post("/notification-subscriptions", tags=["notifications"], status_code=201)
async def create_subscription(
    *, body: SubscriptionCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Which alarms (and command results, media) of which devices reach whom, on which
    channels, of an account (default the caller's). Bad addresses, a webhook URL that is not
    https or points to a private address, an unknown zone: 422 with notification's reason."""
    context = gateway_of(request)
    account_id = body.account_id or caller.account_id
    check_subscriber(context, caller, account_id)
    subscription = pb.Subscription(account_id=account_id)
    _apply(context, caller, subscription, body)
    created = await context.notifications.create_subscription(subscription)
    return subscription_json(created)


@router.get("/notification-subscriptions", tags=["notifications"])
async def list_subscriptions(
    *,
    request: Request,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: PageToken = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The subscriptions of one account (default the caller's), by id."""
    context = gateway_of(request)
    owner = account_id or caller.account_id
    access.check_account(context.directory, caller, owner, Need.READ)
    found = {s.subscription_id: s for s in await context.notifications.list_subscriptions(owner)}
    page, next_token = _page(sorted(found), "notification-subscriptions", page_size, page_token)
    return {
        "subscriptions": [subscription_json(found[i]) for i in page],
        "next_page_token": next_token,
    }


@router.get("/notification-subscriptions/{subscription_id}", tags=["notifications"])
async def get_subscription(
    *, subscription_id: str, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context, account_id, own_id = _owned(request, caller, subscription_id)
    return subscription_json(await context.notifications.get_subscription(account_id, own_id))


@router.patch("/notification-subscriptions/{subscription_id}", tags=["notifications"])
async def update_subscription(
    *, subscription_id: str, body: SubscriptionUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Change some fields; lists given replace the stored ones. The webhook secret is kept
    unless a new one is given."""
    context, account_id, own_id = _owned(request, caller, subscription_id)
    check_subscriber(context, caller, account_id)
    subscription = await context.notifications.get_subscription(account_id, own_id)
    _apply(context, caller, subscription, body)
    return subscription_json(await context.notifications.update_subscription(subscription))


@router.delete(
    "/notification-subscriptions/{subscription_id}", tags=["notifications"], status_code=204
)
async def delete_subscription(
    *, subscription_id: str, request: Request, caller: CallerDep
) -> Response:
    context, account_id, own_id = _owned(request, caller, subscription_id)
    check_subscriber(context, caller, account_id)
    await context.notifications.delete_subscription(account_id, own_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------- the delivery log


@router.get("/notification-deliveries", tags=["notifications"])
async def list_deliveries(
    *,
    request: Request,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    subscription_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    alarm_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    state: StateName | None = None,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: PageToken = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The delivery log of one account (default the caller's, or the subscription's), with
    optional filters, ordered by alarm, subscription and channel."""
    context = gateway_of(request)
    own_subscription = ""
    owner = account_id
    if subscription_id is not None:
        subscription_account, own_subscription = split_owned(subscription_id, "subscription")
        owner = owner or subscription_account
        if subscription_account != owner:
            raise not_found("subscription")
    owner = owner or caller.account_id
    access.check_account(context.directory, caller, owner, Need.READ)
    deliveries = await context.notifications.list_deliveries(
        owner,
        subscription_id=own_subscription,
        alarm_id=alarm_id or "",
        state=STATES[state] if state else 0,
    )
    by_key = {f"{d.alarm_id}|{d.subscription_id}|{d.channel:02d}": d for d in deliveries}
    page, next_token = _page(sorted(by_key), "notification-deliveries", page_size, page_token)
    return {
        "deliveries": [delivery_json(by_key[k]) for k in page],
        "next_page_token": next_token,
    }


@router.post("/notification-deliveries/{delivery_id}/redeliver", tags=["notifications"])
async def redeliver(*, delivery_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    """Send a finished delivery (typically a dead one) again, attempts reset (OPERATOR or
    ADMIN). One still being sent or retried: 409."""
    context = gateway_of(request)
    try:
        account_id, subscription_id, alarm_id, channel = json.loads(
            decode_token("delivery", delivery_id)
        )
        if not all(isinstance(v, str) and v for v in (account_id, subscription_id, alarm_id)):
            raise ValueError("not a delivery")
        channel = int(channel)
    except (BadPageToken, ValueError, TypeError):
        raise not_found("delivery") from None
    if channel not in CHANNEL_NAMES:
        raise not_found("delivery")
    access.check_account(context.directory, caller, account_id, Need.COMMAND)
    delivered = await context.notifications.redeliver(
        account_id, alarm_id=alarm_id, subscription_id=subscription_id, channel=channel
    )
    return delivery_json(delivered)


# ---------------------------------------------------------------------- the inbox


def _newest_first(entry: pb.InboxEntry) -> str:
    # keys that sort ascending in the order of the listing: newest first, then by id
    inverted = 10**13 - (entry.created_time.seconds * 1000 + entry.created_time.nanos // 10**6)
    return f"{inverted:014d}|{entry.notification_id}"


@router.get("/inbox", tags=["notifications"])
async def list_inbox(
    *,
    request: Request,
    unread_only: bool = False,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
    page_token: PageToken = "",
    caller: CallerDep,
) -> dict[str, Any]:
    """The caller's own in-app notifications, newest first."""
    context = gateway_of(request)
    entries = await context.notifications.inbox(caller.account_id, unread_only=unread_only)
    by_key = {_newest_first(e): e for e in entries}
    page, next_token = _page(sorted(by_key), "inbox", page_size, page_token)
    return {
        "notifications": [inbox_json(by_key[k]) for k in page],
        "unread_count": sum(1 for e in entries if not e.read),
        "next_page_token": next_token,
    }


@router.post("/inbox/read", tags=["notifications"], status_code=204)
async def mark_inbox_read(*, body: InboxMark, request: Request, caller: CallerDep) -> Response:
    """Mark notifications of the caller's inbox read (or, with ``"read": false``, unread).
    All or nothing: an id that is not in the caller's inbox is 404 and changes nothing."""
    context = gateway_of(request)
    if caller.read_only:
        raise access.Forbidden("a read-only API key cannot change the inbox")
    ids = list(dict.fromkeys(body.notification_ids))
    await context.notifications.mark_read(caller.account_id, ids, read=body.read)
    return Response(status_code=204)
