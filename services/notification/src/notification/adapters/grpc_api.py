"""The NotificationService gRPC API, for the gateway: subscriptions, the delivery log,
redelivery, the in-app inbox and erasure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from notification.adapters.store import DeliveryRecord, NotificationStore
from notification.adapters.webhook_guard import WebhookGuard
from notification.domain.model import (
    Channel,
    DeliveryKey,
    InvalidInput,
    State,
    validate_subscription,
)
from notification.domain.webhook_target import BadWebhookUrl
from notification.handlers import Dispatcher, Subscriptions
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.notification.v1 import notification_service_pb2_grpc as pb_grpc
from trackstream_events.timestamps import set_timestamp

STORE_ERRORS = (DriverException, NoHostAvailable)


def public(subscription: pb.Subscription) -> pb.Subscription:
    """What the API returns: the webhook secret is write-only."""
    shown = pb.Subscription()
    shown.CopyFrom(subscription)
    shown.ClearField("webhook_secret")
    return shown


def delivery_message(record: DeliveryRecord) -> pb.Delivery:
    message = pb.Delivery(
        alarm_id=record.key.alarm_id,
        subscription_id=record.key.subscription_id,
        channel=int(record.key.channel),  # type: ignore[arg-type]
        account_id=record.account_id,
        state=int(record.state),  # type: ignore[arg-type]
        attempts=record.attempts,
        last_error=record.last_error,
    )
    if record.next_attempt is not None and record.state is State.RETRYING:
        set_timestamp(message.next_attempt_time, record.next_attempt)
    if record.updated is not None:
        set_timestamp(message.updated_time, record.updated)
    return message


class NotificationApi(pb_grpc.NotificationServiceServicer):
    def __init__(
        self,
        *,
        store: NotificationStore,
        subscriptions: Subscriptions,
        dispatcher: Dispatcher,
        forget_rate: Any,
        webhooks: WebhookGuard,
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._dispatcher = dispatcher
        self._forget_rate = forget_rate
        self._webhooks = webhooks

    async def _owned(
        self, account_id: str, subscription_id: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Subscription:
        if not account_id or not subscription_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "account_id and subscription_id are required"
            )
        found = next(
            (
                s
                for s in await self._store.account_subscriptions(account_id)
                if s.subscription_id == subscription_id
            ),
            None,
        )
        if found is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such subscription")
        assert found is not None
        return found

    async def _save(
        self, subscription: pb.Subscription, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Subscription:
        try:
            validate_subscription(
                subscription,
                allow_http_webhooks=self._webhooks.allow_http,
                allowed_networks=self._webhooks.allowed_networks,
            )
            if Channel.WEBHOOK in {int(c) for c in subscription.channels}:
                await self._webhooks.check(subscription.webhook_url)  # what the host resolves to
        except (InvalidInput, BadWebhookUrl) as err:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        try:
            await self._store.put_subscription(subscription)
        except STORE_ERRORS:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "subscription store unavailable")
        self._subscriptions.put(subscription)
        return public(subscription)

    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Subscription:
        subscription = pb.Subscription()
        subscription.CopyFrom(request.subscription)
        subscription.subscription_id = str(uuid.uuid4())
        return await self._save(subscription, context)

    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Subscription:
        return public(await self._owned(request.account_id, request.subscription_id, context))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListSubscriptionsResponse:
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        found = await self._store.account_subscriptions(request.account_id)
        return pb.ListSubscriptionsResponse(subscriptions=[public(s) for s in found])

    async def UpdateSubscription(
        self, request: pb.Subscription, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Subscription:
        old = await self._owned(request.account_id, request.subscription_id, context)
        subscription = pb.Subscription()
        subscription.CopyFrom(request)
        if not subscription.webhook_secret:
            subscription.webhook_secret = old.webhook_secret  # write-only: kept unless replaced
        self._forget_rate(subscription.subscription_id)
        return await self._save(subscription, context)

    async def DeleteSubscription(
        self, request: pb.DeleteSubscriptionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.DeleteSubscriptionResponse:
        await self._owned(request.account_id, request.subscription_id, context)
        await self._store.delete_subscription(request.account_id, request.subscription_id)
        self._subscriptions.remove(request.subscription_id)
        self._forget_rate(request.subscription_id)
        return pb.DeleteSubscriptionResponse()

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListDeliveriesResponse:
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        records = await self._store.account_deliveries(request.account_id)
        chosen = [
            r
            for r in records
            if (not request.subscription_id or r.key.subscription_id == request.subscription_id)
            and (not request.alarm_id or r.key.alarm_id == request.alarm_id)
            and (not request.state or int(r.state) == request.state)
        ]
        return pb.ListDeliveriesResponse(deliveries=[delivery_message(r) for r in chosen])

    async def RedeliverDelivery(
        self, request: pb.RedeliverDeliveryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Delivery:
        try:
            key = DeliveryKey(request.alarm_id, request.subscription_id, Channel(request.channel))
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unknown channel")
        record = await self._store.delivery(key)
        if record is None or record.account_id != request.account_id:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such delivery")
        assert record is not None
        if record.state in (State.PENDING, State.RETRYING):
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the delivery is still open")
        now = datetime.now(UTC)
        await self._store.record_outcome(
            key, state=State.PENDING, attempts=0, last_error="", next_attempt=now, now=now
        )
        self._dispatcher.submit(key)
        updated = await self._store.delivery(key)
        assert updated is not None
        return delivery_message(updated)

    async def ListInbox(
        self, request: pb.ListInboxRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListInboxResponse:
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        entries = await self._store.inbox(request.account_id, unread_only=request.unread_only)
        return pb.ListInboxResponse(entries=entries)

    async def MarkInboxRead(
        self, request: pb.MarkInboxReadRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.MarkInboxReadResponse:
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        ids = list(dict.fromkeys(request.notification_ids))
        if not ids:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "notification_ids is empty")
        # all or nothing: an id that is not in this account's inbox changes nothing
        if not await self._store.mark_read(request.account_id, ids, read=not request.unread):
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such notification")
        return pb.MarkInboxReadResponse()

    async def EraseAccount(
        self, request: pb.EraseAccountRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.EraseAccountResponse:
        if not request.account_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        for subscription in self._subscriptions.all():
            if subscription.account_id == request.account_id:
                self._subscriptions.remove(subscription.subscription_id)
                self._forget_rate(subscription.subscription_id)
        subscriptions, deliveries, inbox = await self._store.erase_account(request.account_id)
        return pb.EraseAccountResponse(
            subscriptions_erased=subscriptions,
            deliveries_erased=deliveries,
            inbox_entries_erased=inbox,
        )


async def serve_grpc(api: NotificationApi, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    pb_grpc.add_NotificationServiceServicer_to_server(api, server)
    checker = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await checker.set(
        "trackstream.notification.v1.NotificationService", health_pb2.HealthCheckResponse.SERVING
    )
    await checker.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound
