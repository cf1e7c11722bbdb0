from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from notification.domain.model import (
    Channel,
    DeliveryKey,
    InvalidInput,
    RateLimiter,
    State,
    after_failure,
    backoff_s,
    in_quiet_hours,
    matches,
    signature,
    signature_header,
    validate_subscription,
    verify_signature,
    zone_of,
)
from notification.domain.templates import alarm_label, render
from trackstream.alarm.v1 import alarm_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb

SOS = alarm_pb2.ALARM_TYPE_SOS
OVERSPEED = alarm_pb2.ALARM_TYPE_OVERSPEED


def sub(**fields: Any) -> pb.Subscription:
    base: dict[str, Any] = {
        "subscription_id": "s1",
        "account_id": "acc",
        "channels": [pb.CHANNEL_EMAIL],
    }
    base.update(fields)
    return pb.Subscription(**base)


def test_an_account_hears_about_every_device_of_its_subtree_by_default() -> None:
    s = sub(account_id="dist")
    assert matches(
        s, alarm_type=SOS, device_id="d", owner_account_id="ent", owner_ancestors=["root", "dist"]
    )
    assert not matches(
        s, alarm_type=SOS, device_id="d", owner_account_id="other", owner_ancestors=["root"]
    )
    assert not matches(s, alarm_type=SOS, device_id="d", owner_account_id="", owner_ancestors=[])


def test_alarm_types_devices_and_groups_narrow_the_subscription() -> None:
    typed = sub(alarm_types=[SOS])
    assert matches(typed, alarm_type=SOS, device_id="d", owner_account_id="acc", owner_ancestors=[])
    assert not matches(
        typed, alarm_type=OVERSPEED, device_id="d", owner_account_id="acc", owner_ancestors=[]
    )
    devices = sub(device_ids=["d1"])
    assert matches(
        devices, alarm_type=SOS, device_id="d1", owner_account_id="acc", owner_ancestors=[]
    )
    assert not matches(
        devices, alarm_type=SOS, device_id="d2", owner_account_id="acc", owner_ancestors=[]
    )
    group = sub(account_id="root", group_account_ids=["fleet-a"])
    assert matches(
        group,
        alarm_type=SOS,
        device_id="x",
        owner_account_id="team",
        owner_ancestors=["root", "fleet-a"],
    )
    assert not matches(
        group, alarm_type=SOS, device_id="x", owner_account_id="fleet-b", owner_ancestors=["root"]
    )


def test_a_disabled_subscription_matches_nothing() -> None:
    assert not matches(
        sub(disabled=True),
        alarm_type=SOS,
        device_id="d",
        owner_account_id="acc",
        owner_ancestors=[],
    )


def test_a_group_outside_the_own_subtree_gives_nothing() -> None:
    # an account cannot listen to a foreign group by naming it
    foreign = sub(account_id="mine", group_account_ids=["theirs"])
    assert not matches(
        foreign, alarm_type=SOS, device_id="x", owner_account_id="theirs", owner_ancestors=["root"]
    )


@pytest.mark.parametrize(
    ("start", "end", "utc_hour", "quiet"),
    [
        (22 * 60, 7 * 60, 20, False),  # 20:30 UTC is 21:30 in Berlin in winter
        (22 * 60, 7 * 60, 22, True),
        (22 * 60, 7 * 60, 5, True),
        (22 * 60, 7 * 60, 6, False),
        (9 * 60, 17 * 60, 10, True),
        (9 * 60, 17 * 60, 16, False),
        (0, 0, 3, False),
    ],
)
def test_quiet_hours_are_read_on_the_accounts_clock(start, end, utc_hour, quiet) -> None:
    zone = zone_of("Europe/Berlin")
    when = datetime(2026, 1, 15, utc_hour, 30, tzinfo=UTC)
    hours = pb.QuietHours(start_minute=start, end_minute=end)
    assert in_quiet_hours(hours, when, zone) is quiet


def test_an_unknown_zone_falls_back_to_the_default() -> None:
    assert zone_of("Nowhere/Atlantis").key == "UTC"
    assert zone_of("", "Asia/Shanghai").key == "Asia/Shanghai"


def test_the_rate_limit_is_a_sliding_window_per_subscription_and_channel() -> None:
    now = [1000.0]
    limiter = RateLimiter(lambda: now[0])
    s = sub(rate_limits=[pb.RateLimit(channel=pb.CHANNEL_EMAIL, max_count=2, window_s=60)])
    assert limiter.allow(s, Channel.EMAIL)
    assert limiter.allow(s, Channel.EMAIL)
    assert not limiter.allow(s, Channel.EMAIL)
    assert limiter.allow(s, Channel.WEBHOOK)  # no limit on this channel
    now[0] += 60.0
    assert limiter.allow(s, Channel.EMAIL)
    limiter.forget("s1")
    assert limiter.allow(s, Channel.EMAIL)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"alarm_id":"a"}'
    expected = hmac.new(b"secret-secret-16", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("secret-secret-16", 1700000000, body) == expected
    header = signature_header("secret-secret-16", 1700000000, body)
    assert verify_signature("secret-secret-16", header, body, now=1700000010)
    assert not verify_signature("another-secret-x", header, body, now=1700000010)
    assert not verify_signature("secret-secret-16", header, body + b" ", now=1700000010)
    assert not verify_signature("secret-secret-16", header, body, now=1700009999)  # stale
    assert not verify_signature("secret-secret-16", "garbage", body, now=1700000000)


def test_backoff_doubles_up_to_the_cap_and_the_last_attempt_is_dead() -> None:
    delays = [backoff_s(n, base_s=2, max_s=30) for n in range(0, 7)]
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert after_failure(3, 4) is State.RETRYING
    assert after_failure(4, 4) is State.DEAD


def test_the_delivery_id_is_stable_per_alarm_subscription_and_channel() -> None:
    a = DeliveryKey("alarm", "sub", Channel.EMAIL)
    assert a.delivery_id == DeliveryKey("alarm", "sub", Channel.EMAIL).delivery_id
    assert a.delivery_id != DeliveryKey("alarm", "sub", Channel.WEBHOOK).delivery_id


def test_templates_show_the_place_and_the_time_in_the_accounts_zone() -> None:
    title, body = render(
        alarm_type=SOS,
        device_label="dev-1",
        when=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        zone=zone_of("Asia/Shanghai"),
        place="Shenzhen, Guangdong",
    )
    assert title == "Sos on dev-1"
    assert "2026-07-01 20:00:00 CST" in body
    assert "Asia/Shanghai" in body
    assert "Shenzhen, Guangdong" in body
    _, german = render(
        alarm_type=OVERSPEED,
        device_label="d",
        when=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        zone=zone_of("Europe/Berlin"),
        place="",
        locale="de-DE",
    )
    assert german.startswith("Overspeed an d um 2026-07-01 14:00:00 CEST")
    assert "position unknown" in german
    assert alarm_label(9999) == "Alarm 9999"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"account_id": ""}, "account_id"),
        ({"channels": []}, "channel"),
        ({"email_addresses": ["not-an-address"]}, "malformed"),
        (
            {
                "channels": [pb.CHANNEL_WEBHOOK],
                "webhook_url": "http://x.example/h",
                "webhook_secret": "s" * 16,
            },
            "https",
        ),
        (
            {
                "channels": [pb.CHANNEL_WEBHOOK],
                "webhook_url": "https://x.example/h",
                "webhook_secret": "short",
            },
            "secret",
        ),
        ({"channels": [pb.CHANNEL_PUSH]}, "push_tokens"),
        ({"time_zone": "Mars/Olympus"}, "time zone"),
        ({"time_zone": "a" * 300}, "time zone"),  # too long for a file name: OSError inside
        ({"quiet_hours": pb.QuietHours(start_minute=1440)}, "quiet"),
        (
            {"rate_limits": [pb.RateLimit(channel=pb.CHANNEL_WEBHOOK, max_count=1, window_s=1)]},
            "rate limit",
        ),
    ],
)
def test_bad_subscriptions_are_refused_with_a_reason(fields, reason) -> None:
    s = sub(**{"email_addresses": ["ops@example.com"], **fields})
    with pytest.raises(InvalidInput, match=reason):
        validate_subscription(s, allow_http_webhooks=False)


def test_a_good_subscription_passes() -> None:
    validate_subscription(
        sub(
            channels=[pb.CHANNEL_EMAIL, pb.CHANNEL_WEBHOOK, pb.CHANNEL_IN_APP],
            email_addresses=["ops@example.com"],
            webhook_url="https://hooks.example.com/in",
            webhook_secret="0123456789abcdef",
            time_zone="Europe/Berlin",
        ),
        allow_http_webhooks=False,
    )
