"""The channels behind one interface: in-app, e-mail (SMTP), webhooks, mobile push.

``send`` returns when the receiver accepted the notification and raises :class:`DeliveryFailed`
otherwise; reasons never quote addresses, URLs or tokens."""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from notification.adapters.webhook_guard import UnresolvedHost, WebhookGuard
from notification.domain.model import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Channel,
    DeliveryKey,
    Notice,
    signature_header,
)
from notification.domain.webhook_target import BadWebhookUrl
from trackstream.notification.v1 import notification_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream_events.timestamps import to_timestamp

INBOX_TOPIC = "notification.inbox.v1"


class DeliveryFailed(Exception):
    """The receiver did not take it; ``permanent`` skips the remaining attempts."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class ChannelAdapter(Protocol):
    channel: Channel

    def receiver(self, subscription: pb.Subscription) -> str:
        """Who receives: deliveries to one receiver share a concurrency bound."""
        ...

    async def send(
        self, key: DeliveryKey, subscription: pb.Subscription, notice: Notice, when: datetime
    ) -> None: ...


class InboxWriter(Protocol):
    async def add_to_inbox(
        self,
        *,
        account_id: str,
        notification_id: str,
        created: datetime,
        alarm_id: str,
        subscription_id: str,
        title: str,
        body: str,
    ) -> None: ...


class Publisher(Protocol):
    async def publish(self, topic: str, event: Any, *, key: str) -> object: ...


class InAppChannel:
    """The persistent inbox, then an event for the gateway's WebSocket."""

    channel = Channel.IN_APP

    def __init__(self, inbox: InboxWriter, publisher: Publisher) -> None:
        self._inbox = inbox
        self._publisher = publisher

    def receiver(self, subscription: pb.Subscription) -> str:
        return "inbox"

    async def send(
        self, key: DeliveryKey, subscription: pb.Subscription, notice: Notice, when: datetime
    ) -> None:
        await self._inbox.add_to_inbox(
            account_id=subscription.account_id,
            notification_id=key.delivery_id,
            created=when,
            alarm_id=key.alarm_id,
            subscription_id=key.subscription_id,
            title=notice.title,
            body=notice.body,
        )
        await self._publisher.publish(
            INBOX_TOPIC,
            notification_pb2.InboxNotificationAdded(
                notification_id=key.delivery_id,
                account_id=subscription.account_id,
                subscription_id=key.subscription_id,
                alarm_id=key.alarm_id,
                device_id=str(notice.document.get("device_id", "")),
                title=notice.title,
                body=notice.body,
                created_time=to_timestamp(when),
            ),
            key=subscription.account_id,
        )


class EmailChannel:
    """SMTP with the standard library, in a worker thread (one connection per message)."""

    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        address: str,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout_s: float = 15.0,
    ) -> None:
        host, _, port = address.rpartition(":")
        self._host, self._port, self._sender = host or address, int(port or 25), sender
        self._username, self._password = username, password
        self._starttls, self._timeout_s = starttls, timeout_s

    def receiver(self, subscription: pb.Subscription) -> str:
        return "smtp"

    async def send(
        self, key: DeliveryKey, subscription: pb.Subscription, notice: Notice, when: datetime
    ) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = ", ".join(subscription.email_addresses)
        message["Subject"] = notice.title
        message["Message-ID"] = f"<{key.delivery_id}@trackstream>"
        message.set_content(notice.body)
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryFailed("smtp refused every recipient", permanent=True) from err
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryFailed(f"smtp: {type(err).__name__}") from err

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout_s) as smtp:
            if self._starttls:
                smtp.starttls()
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message)


class WebhookChannel:
    """HTTPS POST of the JSON document, signed: ``X-Trackstream-Signature: t=<ts>,v1=<hex>``
    with HMAC-SHA256 over ``"<ts>.<body>"`` and the subscription's secret."""

    channel = Channel.WEBHOOK

    def __init__(
        self,
        client: httpx.AsyncClient,
        guard: WebhookGuard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._guard = guard
        self._clock = clock

    def receiver(self, subscription: pb.Subscription) -> str:
        # one receiver per endpoint URL: a slow endpoint holds only its own slots
        return f"webhook:{subscription.webhook_url}"

    async def send(
        self, key: DeliveryKey, subscription: pb.Subscription, notice: Notice, when: datetime
    ) -> None:
        body = json.dumps(
            {"delivery_id": key.delivery_id, **notice.document}, separators=(",", ":")
        ).encode()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature_header(subscription.webhook_secret, timestamp, body),
            DELIVERY_HEADER: key.delivery_id,
        }
        try:
            # checked again now, and sent to the very address that was checked
            pinned = await self._guard.pinned(subscription.webhook_url)
        except UnresolvedHost as err:
            raise DeliveryFailed(f"webhook: {err}") from err
        except BadWebhookUrl as err:
            raise DeliveryFailed(f"webhook refused: {err}", permanent=True) from err
        try:
            # never follows redirects: a 3xx is a failed attempt
            response = await self._client.post(
                pinned.url,
                content=body,
                headers={**headers, **pinned.headers},
                extensions=pinned.extensions,
                follow_redirects=False,
            )
        except httpx.HTTPError as err:
            raise DeliveryFailed(f"webhook: {type(err).__name__}") from err
        if not response.is_success:
            raise DeliveryFailed(f"webhook answered {response.status_code}")


TokenDropper = Callable[[str, pb.PushToken], Awaitable[None]]


class PushProviderClient(Protocol):
    provider: int

    async def push(self, token: str, notice: Notice) -> None:
        """Raises :class:`InvalidToken` when the provider says the token is no more."""
        ...


class InvalidToken(Exception):
    pass


class FcmClient:
    """FCM HTTP v1: ``POST /v1/projects/{project}/messages:send`` with an OAuth2 bearer;
    an unregistered token answers 404 NOT_FOUND (errorCode UNREGISTERED) or 400
    INVALID_ARGUMENT."""

    provider: int = pb.PUSH_PROVIDER_FCM

    def __init__(self, client: httpx.AsyncClient, *, url: str, project_id: str, token: str) -> None:
        self._client, self._url, self._project, self._token = client, url, project_id, token

    async def push(self, token: str, notice: Notice) -> None:
        response = await self._client.post(
            f"{self._url}/v1/projects/{quote(self._project)}/messages:send",
            headers={"Authorization": f"Bearer {self._token}"},
            json={
                "message": {
                    "token": token,
                    "notification": {"title": notice.title, "body": notice.body},
                    "data": {k: str(v) for k, v in notice.document.items()},
                }
            },
        )
        if response.is_success:
            return
        error = _json(response).get("error", {})
        codes = {d.get("errorCode") for d in error.get("details", []) if isinstance(d, dict)}
        if "UNREGISTERED" in codes or (
            response.status_code == 400 and error.get("status") == "INVALID_ARGUMENT"
        ):
            raise InvalidToken()
        raise DeliveryFailed(f"fcm answered {response.status_code}")


class ApnsClient:
    """APNs provider API: ``POST /3/device/{token}`` with ``apns-topic`` and a bearer; 410
    ``Unregistered`` or 400 ``BadDeviceToken`` mean the token is no more."""

    provider: int = pb.PUSH_PROVIDER_APNS

    def __init__(self, client: httpx.AsyncClient, *, url: str, topic: str, token: str) -> None:
        self._client, self._url, self._topic, self._token = client, url, topic, token

    async def push(self, token: str, notice: Notice) -> None:
        response = await self._client.post(
            f"{self._url}/3/device/{quote(token)}",
            headers={
                "authorization": f"bearer {self._token}",
                "apns-topic": self._topic,
                "apns-push-type": "alert",
            },
            json={
                "aps": {"alert": {"title": notice.title, "body": notice.body}, "sound": "default"},
                "trackstream": notice.document,
            },
        )
        if response.is_success:
            return
        reason = _json(response).get("reason", "")
        if response.status_code == 410 or reason in {"BadDeviceToken", "Unregistered"}:
            raise InvalidToken()
        raise DeliveryFailed(f"apns answered {response.status_code} {reason}")


class JPushClient:
    """JPush v3: ``POST /v3/push`` with basic auth appKey:masterSecret; error 1011 ("cannot find
    user by this audience") means the registration id is no more."""

    provider: int = pb.PUSH_PROVIDER_JPUSH

    def __init__(
        self, client: httpx.AsyncClient, *, url: str, app_key: str, master_secret: str
    ) -> None:
        self._client, self._url = client, url
        self._auth = (app_key, master_secret)

    async def push(self, token: str, notice: Notice) -> None:
        response = await self._client.post(
            f"{self._url}/v3/push",
            auth=self._auth,
            json={
                "platform": "all",
                "audience": {"registration_id": [token]},
                "notification": {
                    "alert": notice.body,
                    "android": {"title": notice.title, "alert": notice.body},
                    "ios": {"alert": {"title": notice.title, "body": notice.body}},
                },
                "options": {"time_to_live": 86400},
            },
        )
        if response.is_success:
            return
        code = _json(response).get("error", {}).get("code")
        if code == 1011:
            raise InvalidToken()
        raise DeliveryFailed(f"jpush answered {response.status_code} code {code}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class PushChannel:
    """Every push token of the subscription, through its provider. A token the provider calls
    invalid is dropped from the subscription; the delivery succeeds when one token took it."""

    channel = Channel.PUSH

    def __init__(self, providers: list[PushProviderClient], drop_token: TokenDropper) -> None:
        self._providers = {int(p.provider): p for p in providers}
        self._drop_token = drop_token

    def receiver(self, subscription: pb.Subscription) -> str:
        return "push"

    async def send(
        self, key: DeliveryKey, subscription: pb.Subscription, notice: Notice, when: datetime
    ) -> None:
        delivered = 0
        failures: list[str] = []
        for token in list(subscription.push_tokens):
            client = self._providers.get(int(token.provider))
            if client is None:
                failures.append(f"no client for provider {token.provider}")
                continue
            try:
                await client.push(token.token, notice)
                delivered += 1
            except InvalidToken:
                await self._drop_token(subscription.subscription_id, token)
            except DeliveryFailed as err:
                failures.append(err.reason)
            except httpx.HTTPError as err:
                failures.append(f"push: {type(err).__name__}")
        if delivered:
            return
        if not failures:
            raise DeliveryFailed("no valid push token left", permanent=True)
        raise DeliveryFailed("; ".join(failures))
