"""Taking part in an erasure (the privacy service's orders; docs/architecture.md, "Erasure").

Every service that stores data about a subject runs one :class:`ErasureParticipant`: it reads
``privacy.erasure-orders.v1`` in its own consumer group, hands each order to the service's
``erase`` function, and publishes what each store did as one ``ErasureAcknowledged`` on
``privacy.erasure-acks.v1``. The offset is committed only after the acknowledgement is in Kafka,
so a crash re-runs the order: ``erase`` must be idempotent (a second run deletes nothing and
says so with counts of 0). The privacy service re-sends an order that is not acknowledged by
every participant in time, so a participant that was down catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureOrdered,
    StoreErased,
    TombstoneWritten,
)
from trackstream_events.catalog import topic
from trackstream_events.registry import default_registry
from trackstream_events.timestamps import to_timestamp
from trackstream_kafka.consumer import ConsumedEvent, EventConsumer
from trackstream_kafka.publisher import EventPublisher
from trackstream_kafka.settings import KafkaSettings

log = logging.getLogger(__name__)

ORDERS_TOPIC = "privacy.erasure-orders.v1"
ACKS_TOPIC = "privacy.erasure-acks.v1"

#: A service's erasure: everything it holds about the order's devices and accounts, per store.
Erase = Callable[[ErasureOrdered], Awaitable[list[StoreErased]]]


def cassandra_rows_erased(
    table: str, deleted: int, *, gc_grace_s: int, mechanism: str = "partition-delete"
) -> StoreErased:
    """A Cassandra table: the tombstones purge at the first compaction after ``gc_grace_s``
    (the bound assumes compaction runs by then: docs/privacy.md)."""
    gone_by = datetime.now(UTC) + timedelta(seconds=gc_grace_s)
    return StoreErased(
        store=f"cassandra:{table}",
        mechanism=mechanism,
        deleted=deleted,
        physically_gone_by=to_timestamp(gone_by),
    )


async def tombstone_keys(
    publisher: EventPublisher, topic_name: str, keys: Sequence[str]
) -> StoreErased:
    """Tombstones for ``keys`` on a compacted topic, with where each landed; the catalog's
    compaction settings bound when the older records (and the tombstones) are gone."""
    written = await publisher.publish_tombstones(topic_name, list(keys)) if keys else []
    gone_by = datetime.now(UTC) + timedelta(milliseconds=topic(topic_name).erasure_bound_ms)
    return StoreErased(
        store=f"kafka:{topic_name}",
        mechanism="tombstone",
        deleted=len(written),
        tombstones=[
            TombstoneWritten(topic=topic_name, partition=partition, offset=offset)
            for partition, offset in written
        ],
        physically_gone_by=to_timestamp(gone_by),
    )


def expires_with_retention(topic_name: str) -> StoreErased:
    """A delete-policy topic: nothing to write; its records age out within the retention bound."""
    gone_by = datetime.now(UTC) + timedelta(milliseconds=topic(topic_name).erasure_bound_ms)
    return StoreErased(
        store=f"kafka:{topic_name}",
        mechanism="retention",
        deleted=0,
        physically_gone_by=to_timestamp(gone_by),
    )


class ErasureParticipant:
    """Consumes erasure orders for one service and acknowledges them."""

    def __init__(
        self,
        *,
        settings: KafkaSettings,
        participant: str,
        erase: Erase,
        publisher: EventPublisher,
        group_id: str | None = None,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self.participant = participant
        self._erase = erase
        self._publisher = publisher
        self._consumer = EventConsumer(
            settings=settings,
            group_id=group_id or f"{participant}-erasure",
            topics=[ORDERS_TOPIC],
            handler=self._handle,
            registry=default_registry(),
            dead_letters=publisher,
            # "latest" for what lives only in a process's memory: a process that starts after
            # an order holds nothing of its subject
            auto_offset_reset=auto_offset_reset,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def run(self) -> None:
        await self._consumer.run()

    def stop(self) -> None:
        self._consumer.stop()

    async def _handle(self, event: ConsumedEvent) -> None:
        order = event.message
        if not isinstance(order, ErasureOrdered):
            return
        await self.apply(order)

    async def apply(self, order: ErasureOrdered) -> ErasureAcknowledged:
        """Erase and acknowledge one order (the consumer's handler; tests call it directly)."""
        stores = await self._erase(order)
        ack = ErasureAcknowledged(
            request_id=order.request_id,
            participant=self.participant,
            stores=stores,
            erased_at=to_timestamp(datetime.now(UTC)),
            attempt=order.attempt,
        )
        await self._publisher.publish(ACKS_TOPIC, ack, key=order.request_id)
        log.info(
            "erasure applied",
            extra={
                "request_id": order.request_id,
                "participant": self.participant,
                "deleted": sum(s.deleted for s in stores),
            },
        )
        return ack
