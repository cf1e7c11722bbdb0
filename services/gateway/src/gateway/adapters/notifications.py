"""The notification service's gRPC API as the gateway uses it: one deadline per call, the
request messages built here so the routes deal in plain values."""

from __future__ import annotations

import grpc

from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.notification.v1 import notification_service_pb2_grpc as pb_grpc


class NotificationBackend:
    def __init__(self, channel: grpc.aio.Channel, *, timeout_s: float) -> None:
        self._stub = pb_grpc.NotificationServiceStub(channel)
        self._timeout_s = timeout_s

    async def create_subscription(self, subscription: pb.Subscription) -> pb.Subscription:
        created: pb.Subscription = await self._stub.CreateSubscription(
            pb.CreateSubscriptionRequest(subscription=subscription), timeout=self._timeout_s
        )
        return created

    async def get_subscription(self, account_id: str, subscription_id: str) -> pb.Subscription:
        found: pb.Subscription = await self._stub.GetSubscription(
            pb.GetSubscriptionRequest(account_id=account_id, subscription_id=subscription_id),
            timeout=self._timeout_s,
        )
        return found

    async def list_subscriptions(self, account_id: str) -> list[pb.Subscription]:
        response = await self._stub.ListSubscriptions(
            pb.ListSubscriptionsRequest(account_id=account_id), timeout=self._timeout_s
        )
        return list(response.subscriptions)

    async def update_subscription(self, subscription: pb.Subscription) -> pb.Subscription:
        """Replaces every field; an empty webhook_secret keeps the stored one."""
        updated: pb.Subscription = await self._stub.UpdateSubscription(
            subscription, timeout=self._timeout_s
        )
        return updated

    async def delete_subscription(self, account_id: str, subscription_id: str) -> None:
        await self._stub.DeleteSubscription(
            pb.DeleteSubscriptionRequest(account_id=account_id, subscription_id=subscription_id),
            timeout=self._timeout_s,
        )

    async def list_deliveries(
        self, account_id: str, *, subscription_id: str = "", alarm_id: str = "", state: int = 0
    ) -> list[pb.Delivery]:
        response = await self._stub.ListDeliveries(
            pb.ListDeliveriesRequest(
                account_id=account_id,
                subscription_id=subscription_id,
                alarm_id=alarm_id,
                state=state,  # type: ignore[arg-type]
            ),
            timeout=self._timeout_s,
        )
        return list(response.deliveries)

    async def redeliver(
        self, account_id: str, *, alarm_id: str, subscription_id: str, channel: int
    ) -> pb.Delivery:
        delivery: pb.Delivery = await self._stub.RedeliverDelivery(
            pb.RedeliverDeliveryRequest(
                account_id=account_id,
                alarm_id=alarm_id,
                subscription_id=subscription_id,
                channel=channel,  # type: ignore[arg-type]
            ),
            timeout=self._timeout_s,
        )
        return delivery

    async def inbox(self, account_id: str, *, unread_only: bool) -> list[pb.InboxEntry]:
        response = await self._stub.ListInbox(
            pb.ListInboxRequest(account_id=account_id, unread_only=unread_only),
            timeout=self._timeout_s,
        )
        return list(response.entries)

    async def mark_read(self, account_id: str, notification_ids: list[str], *, read: bool) -> None:
        """NOT_FOUND (changing nothing) when an id is not in the account's inbox."""
        await self._stub.MarkInboxRead(
            pb.MarkInboxReadRequest(
                account_id=account_id, notification_ids=notification_ids, unread=not read
            ),
            timeout=self._timeout_s,
        )
