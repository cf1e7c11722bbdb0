"""The only composition root of the notification service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from notification.adapters.channels import (
    ApnsClient,
    ChannelAdapter,
    EmailChannel,
    FcmClient,
    InAppChannel,
    JPushClient,
    PushChannel,
    WebhookChannel,
)
from notification.adapters.geocoder import Geocoder
from notification.adapters.grpc_api import NotificationApi, serve_grpc
from notification.adapters.store import NotificationStore
from notification.adapters.webhook_guard import WebhookGuard
from notification.config import NotificationSettings
from notification.erasure import PARTICIPANT, NotificationErasure
from notification.handlers import (
    ACCOUNTS,
    ALARMS,
    COMMAND_RESULTS,
    MEDIA,
    REGISTRY,
    AlarmProcessor,
    Directory,
    Dispatcher,
    Subscriptions,
    Sweeper,
)
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream_cassandra import CassandraStore, connect
from trackstream_events.registry import default_registry
from trackstream_kafka import EventConsumer, EventPublisher
from trackstream_kafka.erasure import ErasureParticipant
from trackstream_kafka.sealing import CassandraDataKeyStore, DataKeys
from trackstream_kafka.table import CompactedTable


@dataclass
class NotificationApp:
    settings: NotificationSettings
    store: NotificationStore
    cassandra: CassandraStore
    subscriptions: Subscriptions
    dispatcher: Dispatcher
    processor: AlarmProcessor
    sweeper: Sweeper
    tables: list[CompactedTable[Any]]
    publisher: EventPublisher
    http: httpx.AsyncClient
    geocoder: Geocoder
    api: NotificationApi
    erasure: NotificationErasure
    grpc_port: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        tables_stopping = asyncio.Event()
        loading = [asyncio.create_task(t.run(tables_stopping)) for t in self.tables]
        waiting: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(t.ready.wait() for t in self.tables))
        )
        done, _ = await asyncio.wait({*loading, waiting}, return_when=asyncio.FIRST_COMPLETED)
        for task in loading:
            if task in done:
                task.result()
        await self.publisher.start()
        self.subscriptions.replace_all(await self.store.all_subscriptions())
        consumer = EventConsumer(
            settings=s.kafka,
            group_id=s.consumer_group,
            topics=list(dict.fromkeys([ALARMS, COMMAND_RESULTS, MEDIA])),
            batch_handler=self.processor.handle,
            registry=default_registry(),
            dead_letters=self.publisher,
            auto_offset_reset=s.new_group_start,
            data_keys=self.publisher.data_keys,
        )
        await consumer.start()
        participant = ErasureParticipant(
            settings=s.kafka,
            participant=PARTICIPANT,
            erase=self.erasure.erase,
            publisher=self.publisher,
            group_id=f"{s.consumer_group}-erasure",
        )
        await participant.start()
        server, self.grpc_port = await serve_grpc(self.api, s.grpc_host, s.grpc_port)
        sweeps_stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(consumer.run()),
            asyncio.create_task(self.sweeper.run(sweeps_stopping, s.sweep_interval_s)),
            asyncio.create_task(participant.run()),
        ]
        await consumer.positions()
        self.ready.set()
        try:
            waiter = asyncio.create_task(stopping.wait())
            await asyncio.wait({*tasks, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            for task in tasks:
                if task.done():
                    task.result()
        finally:
            self.ready.clear()
            sweeps_stopping.set()
            consumer.stop()
            participant.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await self.dispatcher.drain(10)
            await server.stop(5)
            await self.publisher.stop()
            await self.http.aclose()
            await self.geocoder.close()
            tables_stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*loading), 10)
            self.cassandra.close()


def bootstrap(settings: NotificationSettings) -> NotificationApp:
    cassandra = CassandraStore(connect(settings.cassandra, keyspace=settings.cassandra.keyspace))
    store = NotificationStore(cassandra)
    subscriptions = Subscriptions()
    directory = Directory()
    kafka = settings.kafka
    tables: list[CompactedTable[Any]] = [
        CompactedTable(
            kafka,
            REGISTRY,
            DeviceRegistered.FromString,
            client_id="notification-registry",
            on_change=directory.device_changed,
        ),
        CompactedTable(
            kafka,
            ACCOUNTS,
            AccountChanged.FromString,
            client_id="notification-accounts",
            on_change=directory.account_changed,
        ),
    ]
    # opens the sealed alarms it reads (trackstream_kafka.sealing)
    publisher = EventPublisher.create(
        kafka, source="/notification", data_keys=DataKeys(CassandraDataKeyStore(cassandra))
    )
    # webhooks and push share the pool; it never limits below the channels' own bounds
    http = httpx.AsyncClient(
        timeout=settings.webhook_timeout_s,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=4 * settings.channel_concurrency),
    )

    async def drop_token(subscription_id: str, token: pb.PushToken) -> None:
        current = subscriptions.get(subscription_id)
        if current is None:
            return
        updated = pb.Subscription()
        updated.CopyFrom(current)
        del updated.push_tokens[:]
        updated.push_tokens.extend(
            t for t in current.push_tokens if (t.provider, t.token) != (token.provider, token.token)
        )
        await store.put_subscription(updated)
        subscriptions.put(updated)

    webhooks = WebhookGuard(
        allow_http=settings.webhook_allow_http,
        allowed_networks=settings.allowed_webhook_networks,
    )
    push = PushChannel(
        [
            FcmClient(
                http,
                url=settings.fcm_url,
                project_id=settings.fcm_project_id,
                token=settings.fcm_access_token,
            ),
            ApnsClient(
                http,
                url=settings.apns_url,
                topic=settings.apns_topic,
                token=settings.apns_auth_token,
            ),
            JPushClient(
                http,
                url=settings.jpush_url,
                app_key=settings.jpush_app_key,
                master_secret=settings.jpush_master_secret,
            ),
        ],
        drop_token,
    )
    channels: list[ChannelAdapter] = [
        InAppChannel(store, publisher),
        EmailChannel(
            address=settings.smtp_address,
            sender=settings.email_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
        ),
        WebhookChannel(http, webhooks),
        push,
    ]
    dispatcher = Dispatcher(
        store=store,
        subscriptions=subscriptions,
        channels=channels,
        max_attempts=settings.max_attempts,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        channel_concurrency=settings.channel_concurrency,
        receiver_concurrency=settings.receiver_concurrency,
        lease_s=settings.attempt_lease_s,
    )
    geocoder = Geocoder(settings.geocoding_address, settings.geocoding_timeout_s)
    processor = AlarmProcessor(
        store=store,
        subscriptions=subscriptions,
        directory=directory,
        dispatcher=dispatcher,
        places=geocoder,
        default_time_zone=settings.default_time_zone,
    )
    sweeper = Sweeper(store=store, subscriptions=subscriptions, dispatcher=dispatcher)
    api = NotificationApi(
        store=store,
        subscriptions=subscriptions,
        dispatcher=dispatcher,
        forget_rate=processor.limiter.forget,
        webhooks=webhooks,
    )
    return NotificationApp(
        settings=settings,
        store=store,
        cassandra=cassandra,
        subscriptions=subscriptions,
        dispatcher=dispatcher,
        processor=processor,
        sweeper=sweeper,
        tables=tables,
        publisher=publisher,
        http=http,
        geocoder=geocoder,
        api=api,
        erasure=NotificationErasure(
            store=store,
            cassandra=cassandra,
            subscriptions=subscriptions,
            forget_rate=processor.limiter.forget,
        ),
    )
