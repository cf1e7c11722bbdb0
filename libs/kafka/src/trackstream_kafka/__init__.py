"""Kafka helpers: an idempotent publisher that returns only once Kafka has the event, and a
consumer loop that commits only after its handler succeeded and dead-letters poison messages."""

from trackstream_kafka.consumer import ConsumedEvent, EventConsumer, RetryableError
from trackstream_kafka.publisher import EventPublisher, Outgoing, PublishError
from trackstream_kafka.settings import KafkaSettings

__all__ = [
    "ConsumedEvent",
    "EventConsumer",
    "EventPublisher",
    "KafkaSettings",
    "Outgoing",
    "PublishError",
    "RetryableError",
]
