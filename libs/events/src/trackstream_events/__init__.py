"""Event conventions shared by every service: envelope, topic catalog, codec registry."""

from trackstream_events.catalog import BUCKETS, TOPICS, Bucket, Topic, bucket, topic
from trackstream_events.envelope import Envelope, InvalidEnvelope
from trackstream_events.registry import EventRegistry, UnknownEventType, default_registry

__all__ = [
    "BUCKETS",
    "TOPICS",
    "Bucket",
    "Envelope",
    "EventRegistry",
    "InvalidEnvelope",
    "Topic",
    "UnknownEventType",
    "bucket",
    "default_registry",
    "topic",
]
