"""Following topics outside any group (trackstream_kafka.follow, the gateway's feeds) on the
real broker: from the end or from a moment ago, bad records skipped without stopping."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord

from tests.integration.helpers import MakeTopic
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing
from trackstream_kafka.follow import Opener, follow


async def test_a_follower_sees_what_comes_after_its_start_and_skips_what_it_cannot_read(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    topic = await make_topic(partitions=2)
    publisher = EventPublisher.create(kafka_settings, source="/tests/follow")
    await publisher.start()
    seen: dict[str, list[str]] = {"end": [], "lookback": []}
    both_saw_after = asyncio.Event()

    def collect(name: str, record: ConsumerRecord[bytes, bytes], env: Envelope, _: Opener) -> None:
        event = PositionReported.FromString(record.value or b"")
        seen[name].append(event.device_id)
        if all("after" in s for s in seen.values()):
            both_saw_after.set()

    stopping = asyncio.Event()
    try:
        await publisher.publish_many([Outgoing(topic, PositionReported(device_id="before"), "k1")])
        from_end, from_then = asyncio.Event(), asyncio.Event()

        def follower(name: str, started: asyncio.Event, **since: float) -> asyncio.Task[None]:
            return asyncio.create_task(
                follow(
                    kafka_settings,
                    [topic],
                    lambda r, e, o: collect(name, r, e, o),
                    stopping,
                    started,
                    client_id=f"test-follow-{name}",
                    label="test-follow",
                    data_keys=None,
                    **since,
                )
            )

        followers = [
            follower("end", from_end),
            follower("lookback", from_then, lookback_s=60.0),  # back before "before"
        ]
        await asyncio.wait_for(asyncio.gather(from_end.wait(), from_then.wait()), 30)
        # one without an envelope (unreadable), a tombstone (no value), then a good one
        await publisher.publish_raw(topic, key=b"k1", value=b"\x0a\x03bad", headers=[])
        await publisher.publish_raw(topic, key=b"k1", value=None, headers=[])
        await publisher.publish_many([Outgoing(topic, PositionReported(device_id="after"), "k1")])
        await asyncio.wait_for(both_saw_after.wait(), 30)
    finally:
        stopping.set()
        await publisher.stop()
    await asyncio.wait_for(asyncio.gather(*followers), 30)
    assert seen == {"end": ["after"], "lookback": ["before", "after"]}
