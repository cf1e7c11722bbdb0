"""Group commit (trackstream_kafka.coalescing): concurrent calls go out together, one send in
flight, each caller gets its own envelopes or its own failure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_kafka.coalescing import CoalescingPublisher
from trackstream_kafka.publisher import Outgoing, PublishError, SubjectErased

TOPIC = "tracking.positions.v1"


def _item(device: str, serial: int) -> Outgoing:
    event = PositionReported(device_id=device)
    event.origin.message_serial = serial
    return Outgoing(TOPIC, event, device)


def _serial(item: Outgoing) -> int:
    assert isinstance(item.event, PositionReported)
    return item.event.origin.message_serial


class Inner:
    """Records each call; a call waits for ``release`` when ``hold`` is set, and fails as
    ``fail`` says (an exception, or SubjectErased for calls holding an erased device)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Outgoing], bool]] = []
        self.hold: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.erased: set[str] = set()
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def publish_many(
        self, items: Sequence[Outgoing], *, as_batches: bool = False
    ) -> list[Envelope]:
        self.calls.append((list(items), as_batches))
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            raise self.fail
        if any(item.key in self.erased for item in items):
            raise SubjectErased("1 subject(s) erased")
        return [
            Envelope(type="t", source="/s", subject=item.key, id=f"{item.key}/{n}")
            for n, item in enumerate(items)
        ]


async def test_calls_of_one_turn_go_out_as_one_batched_send_each_caller_gets_its_own() -> None:
    inner = Inner()
    publisher = CoalescingPublisher(inner)
    results = await asyncio.gather(
        publisher.publish_many([_item("a", 1), _item("a", 2)]),
        publisher.publish_many([_item("b", 1)]),
        publisher.publish_many([_item("c", 1), _item("c", 2), _item("c", 3)]),
    )
    assert len(inner.calls) == 1
    items, as_batches = inner.calls[0]
    assert as_batches
    serials = [(i.key, _serial(i)) for i in items]
    assert serials == [("a", 1), ("a", 2), ("b", 1), ("c", 1), ("c", 2), ("c", 3)]
    assert [[e.subject for e in r] for r in results] == [["a", "a"], ["b"], ["c", "c", "c"]]
    assert [e.id for e in results[2]] == ["c/3", "c/4", "c/5"]  # its slice of the one send


async def test_one_send_in_flight_the_calls_made_meanwhile_go_together_after_it() -> None:
    inner = Inner()
    inner.hold = asyncio.Event()
    publisher = CoalescingPublisher(inner)
    first = asyncio.create_task(publisher.publish_many([_item("a", 1)]))
    await asyncio.sleep(0.01)
    assert len(inner.calls) == 1  # in flight, held
    later = [asyncio.create_task(publisher.publish_many([_item(d, 1)])) for d in "bcd"]
    await asyncio.sleep(0.01)
    assert len(inner.calls) == 1 and not first.done()  # nothing else sent meanwhile
    inner.hold.set()
    await asyncio.gather(first, *later)
    assert [[i.key for i in items] for items, _ in inner.calls] == [["a"], ["b", "c", "d"]]


async def test_a_failed_send_fails_every_caller_in_it_and_the_next_send_goes() -> None:
    inner = Inner()
    publisher = CoalescingPublisher(inner)
    inner.fail = PublishError("not acknowledged")
    outcomes = await asyncio.gather(
        publisher.publish_many([_item("a", 1)]),
        publisher.publish_many([_item("b", 1)]),
        return_exceptions=True,
    )
    assert all(isinstance(o, PublishError) for o in outcomes)
    inner.fail = None
    [envelope] = await publisher.publish_many([_item("a", 1)])
    assert envelope.subject == "a"


async def test_an_erased_subject_fails_its_own_caller_only() -> None:
    inner = Inner()
    inner.erased = {"gone"}
    publisher = CoalescingPublisher(inner)
    kept, erased, other = await asyncio.gather(
        publisher.publish_many([_item("a", 1)]),
        publisher.publish_many([_item("gone", 1)]),
        publisher.publish_many([_item("b", 1), _item("b", 2)]),
        return_exceptions=True,
    )
    assert isinstance(erased, SubjectErased)
    assert isinstance(kept, list) and [e.subject for e in kept] == ["a"]
    assert isinstance(other, list) and [e.subject for e in other] == ["b", "b"]


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    inner = Inner()
    inner.hold = asyncio.Event()
    publisher = CoalescingPublisher(inner)
    assert await publisher.publish_many([]) == []
    callers = [asyncio.create_task(publisher.publish_many([_item(d, 1)])) for d in "ab"]
    await asyncio.sleep(0.01)
    callers[0].cancel()
    inner.hold.set()
    with pytest.raises(asyncio.CancelledError):
        await callers[0]
    assert [e.subject for e in await callers[1]] == ["b"]


async def test_stop_sends_what_is_waiting_then_stops_the_publisher() -> None:
    inner = Inner()
    inner.hold = asyncio.Event()
    publisher = CoalescingPublisher(inner)
    await publisher.start()
    first = asyncio.create_task(publisher.publish_many([_item("a", 1)]))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(publisher.publish_many([_item("b", 1)]))
    await asyncio.sleep(0.01)
    stopping = asyncio.create_task(publisher.stop())
    await asyncio.sleep(0.01)
    assert not inner.stopped  # the send in flight is not done
    inner.hold.set()
    await stopping
    assert inner.started and inner.stopped
    assert [e.subject for e in await first] == ["a"]
    assert [e.subject for e in await waiting] == ["b"]
    assert [[i.key for i in items] for items, _ in inner.calls] == [["a"], ["b"]]
