"""Server-side request forgery: which webhook URLs and addresses are refused, at subscription
time (validate_subscription, the guard's resolution) and again at send time (DNS rebinding)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import httpx
import pytest

from notification.adapters.channels import DeliveryFailed, WebhookChannel
from notification.adapters.webhook_guard import UnresolvedHost, WebhookGuard
from notification.domain.model import (
    Channel,
    DeliveryKey,
    InvalidInput,
    Notice,
    validate_subscription,
)
from notification.domain.webhook_target import (
    BadWebhookUrl,
    IPAddress,
    parse_networks,
    parse_webhook_url,
    refusal,
)
from trackstream.notification.v1 import notification_service_pb2 as pb

LOOPBACK = parse_networks("127.0.0.0/8, ::1/128")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public"),  # shared address space (carrier-grade NAT)
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_admits_its_networks_only() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), LOOPBACK) is None
    assert refusal(ipaddress.ip_address("::1"), LOOPBACK) is None
    assert refusal(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK) is None
    assert refusal(ipaddress.ip_address("10.0.0.1"), LOOPBACK) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), LOOPBACK) is not None
    with pytest.raises(ValueError, match="not an IP network"):
        parse_networks("127.0.0.0/8, loopback")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("https:///x", "host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com:99999/x", "valid URL"),
        ("https://hooks.example.com/a b", "valid URL"),
    ],
)
def test_malformed_or_plain_http_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(BadWebhookUrl, match=reason):
        parse_webhook_url(url, allow_http=False)


def test_plain_http_only_when_allowed() -> None:
    assert parse_webhook_url("http://hooks.example.com/x", allow_http=True).port == 80
    target = parse_webhook_url("https://[2001:db8::1]:8443/x", allow_http=False)
    assert (target.host, target.port, str(target.literal)) == ("2001:db8::1", 8443, "2001:db8::1")


def webhook_subscription(url: str) -> pb.Subscription:
    return pb.Subscription(
        subscription_id="s1",
        account_id="acc",
        channels=[pb.CHANNEL_WEBHOOK],
        webhook_url=url,
        webhook_secret="0123456789abcdef",
    )


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/h", "https://169.254.169.254/latest/meta-data", "https://[::1]:8443/h"],
)
def test_a_subscription_to_an_ip_literal_of_a_refused_network_is_invalid(url: str) -> None:
    with pytest.raises(InvalidInput, match="may not point to"):
        validate_subscription(webhook_subscription(url), allow_http_webhooks=False)
    # unless the operator allowed that network (169.254/16 is not in the list)
    if "169.254" not in url:
        validate_subscription(
            webhook_subscription(url), allow_http_webhooks=False, allowed_networks=LOOPBACK
        )


class Resolver:
    """A DNS in miniature: each lookup of a name takes the next answer (the last one sticks)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        sequence = self.answers.get(host)
        if sequence is None:
            raise OSError("name does not resolve")
        current = sequence.pop(0) if len(sequence) > 1 else sequence[0]
        return [ipaddress.ip_address(a) for a in current]


async def test_names_resolving_to_a_refused_address_are_refused() -> None:
    guard = WebhookGuard(
        allow_http=False,
        resolve=Resolver(
            {
                "hooks.example.com": [["93.184.215.14"]],
                "internal.example.com": [["10.0.0.7"]],
                "mixed.example.com": [["93.184.215.14", "127.0.0.1"]],
            }
        ),
    )
    target, addresses = await guard.check("https://hooks.example.com/x")
    assert target.host == "hooks.example.com" and [str(a) for a in addresses] == ["93.184.215.14"]
    for url in ("https://internal.example.com/x", "https://mixed.example.com/x"):
        with pytest.raises(BadWebhookUrl, match="may not point to"):
            await guard.check(url)
    with pytest.raises(UnresolvedHost, match="does not resolve"):
        await guard.check("https://nowhere.example.com/x")


async def test_the_request_goes_to_the_checked_address_with_the_original_host() -> None:
    guard = WebhookGuard(
        allow_http=False, resolve=Resolver({"hooks.example.com": [["93.184.215.14"]]})
    )
    pinned = await guard.pinned("https://hooks.example.com:8443/in?x=1")
    assert pinned.url == "https://93.184.215.14:8443/in?x=1"
    assert pinned.headers == {"Host": "hooks.example.com:8443"}
    assert pinned.extensions == {"sni_hostname": "hooks.example.com"}


def notice() -> Notice:
    return Notice(title="t", body="b", document={"event": "alarm"})


async def test_dns_rebinding_after_the_subscription_was_checked_is_refused_at_send_time() -> None:
    """The name resolved to a public address when the subscription was saved, and resolves to
    the metadata service when the webhook is sent: nothing is sent, the delivery is dead."""
    resolver = Resolver({"hooks.example.com": [["93.184.215.14"], ["169.254.169.254"]]})
    guard = WebhookGuard(allow_http=False, resolve=resolver)
    subscription = webhook_subscription("https://hooks.example.com/in")
    await guard.check(subscription.webhook_url)  # at subscription time: fine
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        channel = WebhookChannel(client, guard)
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(
                DeliveryKey("a1", "s1", Channel.WEBHOOK), subscription, notice(), datetime.now(UTC)
            )
    assert failed.value.permanent and "link-local" in failed.value.reason
    assert sent == []
    assert resolver.lookups == ["hooks.example.com", "hooks.example.com"]


async def test_a_redirect_is_not_followed() -> None:
    guard = WebhookGuard(
        allow_http=False, resolve=Resolver({"hooks.example.com": [["93.184.215.14"]]})
    )
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(307, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), follow_redirects=True
    ) as client:
        channel = WebhookChannel(client, guard)
        with pytest.raises(DeliveryFailed, match="307"):
            await channel.send(
                DeliveryKey("a1", "s1", Channel.WEBHOOK),
                webhook_subscription("https://hooks.example.com/in"),
                notice(),
                datetime.now(UTC),
            )
    (request,) = sent  # the redirect's target was never asked
    assert request.url.host == "93.184.215.14"
    assert request.headers["Host"] == "hooks.example.com"
