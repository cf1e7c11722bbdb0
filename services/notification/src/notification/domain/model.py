"""What a delivery is, and the rules deciding whether and when it is sent. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from ipaddress import IPv4Network, IPv6Network
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from notification.domain.webhook_target import BadWebhookUrl, parse_webhook_url, refusal
from trackstream.notification.v1 import notification_service_pb2 as pb

_NAMESPACE = uuid.UUID("5b0f8a4e-3c2d-4d6e-9a1b-7c8d9e0f1a2b")


class InvalidInput(ValueError):
    """A request the service refuses, with the reason."""


class Channel(IntEnum):
    IN_APP = pb.CHANNEL_IN_APP
    EMAIL = pb.CHANNEL_EMAIL
    WEBHOOK = pb.CHANNEL_WEBHOOK
    PUSH = pb.CHANNEL_PUSH


class State(IntEnum):
    PENDING = pb.DELIVERY_STATE_PENDING
    SENT = pb.DELIVERY_STATE_SENT
    RETRYING = pb.DELIVERY_STATE_RETRYING
    DEAD = pb.DELIVERY_STATE_DEAD
    SUPPRESSED = pb.DELIVERY_STATE_SUPPRESSED


@dataclass(frozen=True, slots=True)
class DeliveryKey:
    """Exactly one delivery per (alarm, subscription, channel)."""

    alarm_id: str
    subscription_id: str
    channel: Channel

    @property
    def delivery_id(self) -> str:
        """Stable id: receivers may deduplicate on it (X-Trackstream-Delivery)."""
        return str(uuid.uuid5(_NAMESPACE, f"{self.alarm_id}|{self.subscription_id}|{self.channel}"))


@dataclass(frozen=True, slots=True)
class Notice:
    """The rendered notification of one alarm for one subscription (stored with the claim)."""

    title: str
    body: str
    #: the JSON document webhooks receive and push carries as data
    document: dict[str, object]


class SubscriptionScope:
    """Which devices a subscription covers, given the account tree."""

    @staticmethod
    def covers(
        subscription: pb.Subscription,
        *,
        device_id: str,
        owner_account_id: str,
        owner_ancestors: Sequence[str],
    ) -> bool:
        if not owner_account_id:
            return False
        owner_line = {owner_account_id, *owner_ancestors}
        # an account only ever hears about devices of its own subtree
        if subscription.account_id not in owner_line:
            return False
        if not subscription.device_ids and not subscription.group_account_ids:
            return True
        if device_id in subscription.device_ids:
            return True
        return any(group in owner_line for group in subscription.group_account_ids)


def matches(
    subscription: pb.Subscription,
    *,
    alarm_type: int,
    device_id: str,
    owner_account_id: str,
    owner_ancestors: Sequence[str],
) -> bool:
    """Does this alarm concern this subscription."""
    if subscription.disabled:
        return False
    if subscription.alarm_types and alarm_type not in subscription.alarm_types:
        return False
    return SubscriptionScope.covers(
        subscription,
        device_id=device_id,
        owner_account_id=owner_account_id,
        owner_ancestors=owner_ancestors,
    )


def zone_of(name: str, default: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        return ZoneInfo(default)


def validate_zone(name: str) -> None:
    if not name:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"unknown time zone {name!r}") from None


def in_quiet_hours(quiet: pb.QuietHours, when: datetime, zone: ZoneInfo) -> bool:
    """Is ``when`` (aware) inside the quiet hours, read on the local clock of ``zone``.
    ``start == end`` means no quiet hours; ``start > end`` spans midnight."""
    start, end = quiet.start_minute, quiet.end_minute
    if start == end:
        return False
    local = when.astimezone(zone)
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


class RateLimiter:
    """At most ``max_count`` sends per (subscription, channel) in any sliding ``window_s``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sent: dict[tuple[str, Channel], deque[float]] = {}

    def allow(self, subscription: pb.Subscription, channel: Channel) -> bool:
        limit = next((r for r in subscription.rate_limits if int(r.channel) == int(channel)), None)
        if limit is None or limit.max_count == 0 or limit.window_s == 0:
            return True
        now = self._clock()
        sent = self._sent.setdefault((subscription.subscription_id, channel), deque())
        while sent and sent[0] <= now - limit.window_s:
            sent.popleft()
        if len(sent) >= limit.max_count:
            return False
        sent.append(now)
        return True

    def forget(self, subscription_id: str) -> None:
        for key in [k for k in self._sent if k[0] == subscription_id]:
            del self._sent[key]


SIGNATURE_HEADER = "X-Trackstream-Signature"
TIMESTAMP_HEADER = "X-Trackstream-Timestamp"
DELIVERY_HEADER = "X-Trackstream-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"<timestamp>.<body>"`` with the subscription's secret, hex."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: parse ``t=..,v1=..``, check freshness, compare in constant time."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2 base, 4 base, ...,
    capped at ``max_s``."""
    if attempts < 1:
        return 0.0
    return float(min(max_s, base_s * 2 ** (attempts - 1)))


def after_failure(attempts: int, max_attempts: int) -> State:
    """The state after the ``attempts``-th failed try."""
    return State.DEAD if attempts >= max_attempts else State.RETRYING


def validate_subscription(
    subscription: pb.Subscription,
    *,
    allow_http_webhooks: bool,
    allowed_networks: Sequence[IPv4Network | IPv6Network] = (),
) -> None:
    if not subscription.account_id:
        raise InvalidInput("account_id is required")
    if not subscription.channels:
        raise InvalidInput("at least one channel is required")
    for channel in subscription.channels:
        if channel not in {c.value for c in Channel}:
            raise InvalidInput(f"unknown channel {channel}")
    channels: set[int] = {int(c) for c in subscription.channels}
    if Channel.EMAIL in channels:
        if not subscription.email_addresses:
            raise InvalidInput("the e-mail channel needs email_addresses")
        for address in subscription.email_addresses:
            local, _, domain = address.partition("@")
            if not local or "." not in domain or any(c.isspace() for c in address):
                raise InvalidInput("an e-mail address is malformed")
    if Channel.WEBHOOK in channels:
        # a host name's addresses are checked by the adapter that resolves it (webhook_guard)
        try:
            target = parse_webhook_url(subscription.webhook_url, allow_http=allow_http_webhooks)
        except BadWebhookUrl as err:
            raise InvalidInput(str(err)) from None
        literal = target.literal
        reason = None if literal is None else refusal(literal, allowed_networks)
        if reason is not None:
            raise InvalidInput(f"webhook_url may not point to {reason}")
        if len(subscription.webhook_secret) < 16:
            raise InvalidInput("webhook_secret must have at least 16 characters")
    if Channel.PUSH in channels and not subscription.push_tokens:
        raise InvalidInput("the push channel needs push_tokens")
    for token in subscription.push_tokens:
        if token.provider == pb.PUSH_PROVIDER_UNSPECIFIED or not token.token:
            raise InvalidInput("a push token needs a provider and a token")
    validate_zone(subscription.time_zone)
    q = subscription.quiet_hours
    if q.start_minute >= 1440 or q.end_minute >= 1440:
        raise InvalidInput("quiet hours are minutes of the day (0..1439)")
    for limit in subscription.rate_limits:
        if int(limit.channel) not in channels:
            raise InvalidInput("a rate limit names a channel the subscription does not use")
