"""Where a webhook may go (server-side request forgery): the URL's shape, and the addresses its
host may be or resolve to. No I/O: resolving is the adapter's job (adapters/webhook_guard.py),
which calls :func:`refusal` on every address, at subscription time and again before each send.

Refused: loopback, private, link-local (the cloud metadata address 169.254.169.254 included),
multicast, unspecified, reserved and every other non-global address (shared address space,
documentation ranges, IPv4-mapped or NAT64 forms of those), unless an operator lists the network
in ``NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS`` (the local stack and tests: loopback receivers)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class BadWebhookUrl(ValueError):
    """The URL is refused; the message says why (never quoting the URL)."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    scheme: str
    #: a host name, or an IP literal (without brackets)
    host: str
    port: int

    @property
    def literal(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1"`` -> networks; ValueError names the entry that is not one."""
    networks = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an IP network: {item!r}") from None
    return tuple(networks)


def parse_webhook_url(url: str, *, allow_http: bool) -> WebhookTarget:
    """The target of a webhook URL, or BadWebhookUrl saying what is wrong with it."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadWebhookUrl("webhook_url is not a valid URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadWebhookUrl("webhook_url is not a valid URL") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise BadWebhookUrl("webhook_url must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise BadWebhookUrl("webhook_url must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadWebhookUrl("webhook_url needs a host")
    return WebhookTarget(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def _unwrapped(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped or NAT64 (64:ff9b::/96) IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why a webhook may not go to ``address`` (None: it may)."""
    if any(address in network for network in allowed if network.version == address.version):
        return None
    inner = _unwrapped(address)
    if inner is not address and any(
        inner in network for network in allowed if network.version == inner.version
    ):
        return None
    for kind, flag in (
        ("loopback", inner.is_loopback),
        ("unspecified", inner.is_unspecified),
        ("link-local", inner.is_link_local),
        ("multicast", inner.is_multicast),
        ("reserved", inner.is_reserved),
        ("private", inner.is_private),
    ):
        if flag:
            return f"a {kind} address"
    if not inner.is_global:
        return "not a public address"
    return None


def first_refusal(addresses: Iterable[IPAddress], allowed: Sequence[IPNetwork] = ()) -> str | None:
    """The reason for the first refused address: one bad address refuses the host (a name
    that resolves to a public and a private address could be steered to the private one)."""
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            return reason
    return None
