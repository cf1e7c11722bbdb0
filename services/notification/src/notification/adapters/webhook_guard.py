"""Resolves a webhook's host and refuses it when any of its addresses may not be reached
(domain/webhook_target.py says which). Called when a subscription is saved, and again before
every send: the request then goes to the address that was checked (the URL's host replaced by
it, with the Host header and the TLS server name of the original host), so a name that
resolves differently a moment later (DNS rebinding) cannot steer the request elsewhere."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from notification.domain.webhook_target import (
    BadWebhookUrl,
    IPAddress,
    IPNetwork,
    WebhookTarget,
    first_refusal,
    parse_webhook_url,
)

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]


class UnresolvedHost(BadWebhookUrl):
    """The host does not resolve (now): worth another try later, unlike a refused address."""


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # an IPv6 link-local answer may carry a zone ("fe80::1%eth0"): the address is what counts
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos)
    )


@dataclass(frozen=True, slots=True)
class PinnedRequest:
    """Where to send: the URL with the checked address as host, and what keeps the original
    host visible to the receiver (Host header, TLS server name)."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


class WebhookGuard:
    def __init__(
        self,
        *,
        allow_http: bool,
        allowed_networks: Sequence[IPNetwork] = (),
        resolve: Resolve = system_resolve,
        timeout_s: float = 5.0,
    ) -> None:
        self._allow_http = allow_http
        self._allowed = tuple(allowed_networks)
        self._resolve = resolve
        self._timeout_s = timeout_s

    @property
    def allow_http(self) -> bool:
        return self._allow_http

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self._allowed

    async def check(self, url: str) -> tuple[WebhookTarget, list[IPAddress]]:
        """The target and its addresses; BadWebhookUrl (UnresolvedHost) when refused."""
        target = parse_webhook_url(url, allow_http=self._allow_http)
        literal = target.literal
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = await asyncio.wait_for(
                    self._resolve(target.host, target.port), self._timeout_s
                )
            except (OSError, TimeoutError, UnicodeError, ValueError):
                raise UnresolvedHost("webhook_url's host does not resolve") from None
            if not addresses:
                raise UnresolvedHost("webhook_url's host does not resolve")
        reason = first_refusal(addresses, self._allowed)
        if reason is not None:
            raise BadWebhookUrl(f"webhook_url may not point to {reason}")
        return target, addresses

    async def pinned(self, url: str) -> PinnedRequest:
        """The request for ``url``, to an address checked just now."""
        target, addresses = await self.check(url)
        original = httpx.URL(url)
        if target.literal is not None:
            return PinnedRequest(url=url, headers={}, extensions={})
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host  # the certificate is checked for the name
        return PinnedRequest(
            url=str(original.copy_with(host=str(addresses[0]))),
            headers={"Host": original.netloc.decode("ascii")},
            extensions=extensions,
        )
