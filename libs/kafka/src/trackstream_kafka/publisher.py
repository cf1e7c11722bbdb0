"""Publishing events: protobuf value, CloudEvents headers, pseudonymous key, durable on return."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from google.protobuf.message import Message
from opentelemetry import trace

from trackstream_events.envelope import Envelope
from trackstream_events.registry import type_name
from trackstream_kafka.settings import KafkaSettings
from trackstream_obs.metrics import EVENTS_PUBLISHED, PUBLISH_FAILURES, PUBLISH_SECONDS
from trackstream_obs.tracing import current_traceparent

_tracer = trace.get_tracer("trackstream.kafka")


class PublishError(Exception):
    """Kafka did not acknowledge the event within the delivery timeout: it may or may not be
    stored, so the caller must not acknowledge its own input (the device will retransmit)."""


def make_producer(settings: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer (acks=all): its own retries after a broker restart or a leader
    change never write a record twice, and per-key order holds."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.linger_ms,
        max_batch_size=settings.max_batch_size,
        compression_type=settings.compression_type,
        request_timeout_ms=settings.delivery_timeout_ms,
        retry_backoff_ms=200,
    )


class EventPublisher:
    """Publishes protobuf events with an envelope; ``publish`` returns once Kafka acknowledged."""

    def __init__(self, producer: AIOKafkaProducer, *, source: str) -> None:
        self._producer = producer
        self._source = source

    @classmethod
    def create(cls, settings: KafkaSettings, *, source: str) -> EventPublisher:
        return cls(
            make_producer(settings, client_id=source.strip("/").replace("/", "-")), source=source
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        """Flushes what is in flight, then closes."""
        await self._producer.stop()

    async def publish(
        self,
        topic: str,
        event: Message,
        *,
        key: str,
        time_: datetime | None = None,
        cause: Envelope | None = None,
    ) -> Envelope:
        """Send ``event`` keyed by ``key`` (a pseudonymous id) and wait for Kafka's ack."""
        etype = type_name(event)
        with _tracer.start_as_current_span(f"publish {topic}", kind=trace.SpanKind.PRODUCER):
            traceparent, tracestate = current_traceparent()
            if cause is not None:
                envelope = cause.caused(type=etype, source=self._source, subject=key)
            else:
                envelope = Envelope(type=etype, source=self._source, subject=key)
            envelope = envelope.with_trace(traceparent, tracestate)
            if time_ is not None:
                envelope = replace(envelope, time=time_)
            await self._send(topic, key, event.SerializeToString(), envelope)
        EVENTS_PUBLISHED.labels(topic, etype).inc()
        return envelope

    async def publish_tombstone(self, topic: str, *, key: str) -> None:
        """A null value for ``key``: on a compacted topic it erases every earlier record."""
        await self._send(topic, key, None, None)

    async def publish_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Forward a record as it is (dead letters keep the original bytes and headers)."""
        await self._send_record(topic, key, value, headers)

    async def _send(
        self, topic: str, key: str, value: bytes | None, envelope: Envelope | None
    ) -> None:
        headers = envelope.to_headers() if envelope else []
        await self._send_record(topic, key.encode(), value, headers)

    async def _send_record(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        started = time.perf_counter()
        try:
            await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)
        except KafkaError as err:
            PUBLISH_FAILURES.labels(topic).inc()
            raise PublishError(f"{topic}: not acknowledged: {err!r}") from err
        PUBLISH_SECONDS.labels(topic).observe(time.perf_counter() - started)
