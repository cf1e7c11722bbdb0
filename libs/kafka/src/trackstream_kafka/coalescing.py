"""Group commit: concurrent ``publish_many`` calls sent to Kafka together, one send at a time.

Ingest serves thousands of connections; each publishes a frame's few events and waits for
their acknowledgement before it answers the device. Sent one call each, every frame pays the
producer's per-record costs (a coroutine and a future per record, the data-key lookup, the
acknowledgement wait) and waits for the producer's linger. :class:`CoalescingPublisher`
collects the calls and sends them as one: the first call of a quiet moment goes out on the
next turn of the event loop (after the other connections whose bytes arrived with it); while
a send is in flight, the calls made meanwhile wait and go out together as soon as it is
acknowledged. Each partition's records go as one batch, sent at once (no linger). Under load
the batches grow by themselves, when quiet a call waits for nothing but its own round trip.

Each caller still waits for its own records' acknowledgement, so acknowledging a device only
after a durable publish holds. Order: a caller's records stay in its order, and a caller
publishes again only after its last call returned, so per-key order holds. A failure fails
every caller of that send (none is acknowledged; devices send again), except an erased
subject's refusal (:class:`SubjectErased`): then each caller's records are sent on their own,
so only the erased subject's caller fails. Memory stays bounded: a caller has one call
waiting at most (ingest: one per connection, which reads nothing more meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from trackstream_events.envelope import Envelope
from trackstream_kafka.publisher import Outgoing, SubjectErased

_Waiter = tuple[Sequence[Outgoing], "asyncio.Future[list[Envelope]]"]


class BatchingPublisher(Protocol):
    """What is coalesced (an :class:`~trackstream_kafka.publisher.EventPublisher`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish_many(
        self, items: Sequence[Outgoing], *, as_batches: bool = False
    ) -> list[Envelope]: ...


class CoalescingPublisher:
    def __init__(self, inner: BatchingPublisher) -> None:
        self._inner = inner
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False
        self._in_flight: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._inner.start()

    async def stop(self) -> None:
        """Sends what was handed over, then stops the publisher."""
        while self._pending or self._in_flight is not None:
            if self._in_flight is None:
                self._flush()
            if self._in_flight is not None:
                await asyncio.gather(self._in_flight, return_exceptions=True)
        await self._inner.stop()

    async def publish_many(self, items: Sequence[Outgoing]) -> list[Envelope]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Envelope]] = loop.create_future()
        self._pending.append((items, done))
        if self._in_flight is None and not self._flush_scheduled:
            # a callback scheduled now runs on the next turn, after the callbacks already
            # ready on this one: the other connections whose data came in with this one
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await done

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._in_flight is not None or not self._pending:
            return  # the send in flight takes the waiting calls when it is done
        waiters, self._pending = self._pending, []
        self._in_flight = asyncio.ensure_future(self._send(waiters))
        self._in_flight.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Task[None]) -> None:
        self._in_flight = None
        if self._pending:
            self._flush()  # what came in meanwhile goes now, together

    async def _send(self, waiters: list[_Waiter]) -> None:
        try:
            await self._send_all(waiters)
        finally:  # cancelled (the loop is closing): no caller waits forever
            for _, done in waiters:
                if not done.done():
                    done.cancel()

    async def _send_all(self, waiters: list[_Waiter]) -> None:
        if len(waiters) == 1:
            await self._send_alone(waiters[0])
            return
        try:
            envelopes = await self._inner.publish_many(
                [item for items, _ in waiters for item in items], as_batches=True
            )
        except SubjectErased:
            # one caller's subject is erased: the others must not fail with it
            for waiter in waiters:
                await self._send_alone(waiter)
            return
        except Exception as err:
            for _, done in waiters:
                if not done.done():
                    done.set_exception(err)
            return
        start = 0
        for items, done in waiters:
            if not done.done():  # a caller cancelled meanwhile: its records went anyway
                done.set_result(envelopes[start : start + len(items)])
            start += len(items)

    async def _send_alone(self, waiter: _Waiter) -> None:
        items, done = waiter
        try:
            envelopes = await self._inner.publish_many(items, as_batches=True)
        except Exception as err:
            if not done.done():
                done.set_exception(err)
            return
        if not done.done():
            done.set_result(envelopes)
