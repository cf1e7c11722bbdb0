"""What request handlers work with: the read model, the backends, the live hub. Built by
:mod:`gateway.bootstrap`; the API reaches it as ``request.app.state.gateway``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.message import Message

from gateway.adapters.jwks import KeyRing
from gateway.adapters.live import LiveHub
from gateway.adapters.notifications import NotificationBackend
from gateway.config import GatewaySettings
from gateway.domain.commands import CommandBook
from gateway.domain.directory import Directory
from gateway.domain.ratelimit import RateLimiter
from trackstream.alarm.v1 import alarm_service_pb2_grpc as alarm_grpc
from trackstream.geocoding.v1 import geocoding_service_pb2_grpc as geocoding_grpc
from trackstream.history.v1 import history_service_pb2_grpc as history_grpc
from trackstream.identity.v1 import identity_service_pb2_grpc as identity_grpc
from trackstream.media.v1 import media_service_pb2_grpc as media_grpc
from trackstream.privacy.v1 import privacy_service_pb2_grpc as privacy_grpc
from trackstream_events.envelope import Envelope


class Publisher(Protocol):
    async def publish(self, topic: str, event: Message, *, key: str) -> Envelope: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayContext:
    settings: GatewaySettings
    directory: Directory
    keys: KeyRing
    identity: identity_grpc.IdentityServiceStub
    history: history_grpc.HistoryServiceStub
    geocoding: geocoding_grpc.GeocodingServiceStub
    alarm: alarm_grpc.AlarmServiceStub
    privacy: privacy_grpc.PrivacyServiceStub
    media: media_grpc.MediaServiceStub
    notifications: NotificationBackend
    publisher: Publisher
    commands: CommandBook
    hub: LiveHub
    limiter: RateLimiter
    clock: Callable[[], datetime] = field(default=utc_now)
