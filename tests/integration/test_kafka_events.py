"""Events through the real Kafka broker: envelope, key, trace context, broker restarts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from tests.integration.helpers import MakeTopic, read_all
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing, PublishError
from trackstream_kafka.coalescing import CoalescingPublisher
from trackstream_kafka.publisher import CachedPartitioner
from trackstream_obs.tracing import configure_tracing

ROOT = Path(__file__).resolve().parents[2]


def _position(device_id: str, serial: int) -> PositionReported:
    fix_time = Timestamp()
    fix_time.FromDatetime(datetime(2026, 11, 28, 12, 0, serial % 60, tzinfo=UTC))
    return PositionReported(
        device_id=device_id,
        fix=Fix(fix_time=fix_time, latitude=41.0082, longitude=28.9784, speed_kmh=42.5, valid=True),
        origin=Origin(message_serial=serial),
    )


async def test_event_round_trips_with_key_headers_and_trace(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    configure_tracing("tests")
    topic = await make_topic()
    publisher = EventPublisher.create(kafka_settings, source="/tests/roundtrip")
    await publisher.start()
    event = _position("dev-7f3a", 17)
    try:
        with trace.get_tracer("tests").start_as_current_span("request") as span:
            envelope = await publisher.publish(topic, event, key="dev-7f3a")
            trace_id = f"{span.get_span_context().trace_id:032x}"
    finally:
        await publisher.stop()

    [record] = await read_all(kafka_settings, topic)
    assert record.key == b"dev-7f3a"
    assert PositionReported.FromString(record.value) == event
    headers = dict(record.headers)
    assert headers["ce_type"] == b"trackstream.tracking.v1.PositionReported"
    assert headers["ce_source"] == b"/tests/roundtrip"
    assert headers["ce_subject"] == b"dev-7f3a"
    assert headers["content-type"] == b"application/x-protobuf"
    assert headers["ce_dataschema"] == b"proto:trackstream.tracking.v1.PositionReported"
    # the trace of the span that published travels with the event
    version, header_trace_id, _span_id, _flags = headers["traceparent"].decode().split("-")
    assert (version, header_trace_id) == ("00", trace_id)
    received = Envelope.from_headers(record.headers)
    assert received == envelope


async def test_broker_restart_mid_produce_loses_and_duplicates_no_acknowledged_event(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    topic = await make_topic(partitions=3)
    publisher = EventPublisher.create(kafka_settings, source="/tests/restart")
    await publisher.start()
    acknowledged: list[int] = []
    failed: list[int] = []
    per_loop = 150

    async def produce(loop_no: int) -> None:
        for i in range(per_loop):
            serial = loop_no * per_loop + i
            try:
                await publisher.publish(
                    topic, _position(f"dev-{loop_no}", serial), key=f"dev-{loop_no}"
                )
                acknowledged.append(serial)
            except PublishError:
                failed.append(serial)
            await asyncio.sleep(0.01)

    loops = [asyncio.create_task(produce(n)) for n in range(4)]
    while len(acknowledged) < 60:  # noqa: ASYNC110 - waiting on a count, not an event
        await asyncio.sleep(0.05)
    restart = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "deploy/local/stack.py"), "restart", "kafka"],
        capture_output=True,
        text=True,
    )
    assert restart.returncode == 0, restart.stderr
    acked_during_restart = len(acknowledged)
    await asyncio.gather(*loops)
    await publisher.stop()

    records = await read_all(kafka_settings, topic)
    counts = Counter(PositionReported.FromString(r.value).origin.message_serial for r in records)
    assert acked_during_restart < 4 * per_loop, "the restart happened after the loop ended"
    assert not failed, f"the producer gave up on {len(failed)} events instead of retrying"
    assert sorted(acknowledged) == list(range(4 * per_loop))
    duplicates = {serial: n for serial, n in counts.items() if n != 1}
    assert not duplicates, f"written more than once: {duplicates}"
    assert set(counts) == set(acknowledged)
    # per-key order holds across the restart
    for loop_no in range(4):
        serials = [
            PositionReported.FromString(r.value).origin.message_serial
            for r in records
            if r.key == f"dev-{loop_no}".encode()
        ]
        assert serials == sorted(serials)


async def test_many_events_go_out_batched_in_order_per_key_on_the_send_partitions(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    """publish_many and publish_records build one Kafka batch per partition for large calls
    (several when one fills up): every record acknowledged once, in order per key, on the
    partition ``send`` would have chosen, with its envelope."""
    topic = await make_topic(partitions=3)
    # small batches: the 1 KiB limit fills after a few records, so batches are split too
    publisher = EventPublisher.create(
        kafka_settings.model_copy(update={"max_batch_size": 1024}), source="/tests/batched"
    )
    await publisher.start()
    devices = [f"dev-{n}" for n in range(5)]
    try:
        envelopes = await publisher.publish_many(
            [
                Outgoing(topic, _position(device, serial), key=device)
                for serial in range(40)
                for device in devices
            ]
        )
        # a few records for one partition (sent one by one) and many for another, one call
        await publisher.publish_records(
            topic,
            [(devices[0], b"few-%d" % i) for i in range(3)]
            + [(devices[1], b"many-%d" % i) for i in range(30)],
        )
    finally:
        await publisher.stop()

    records = await read_all(kafka_settings, topic)
    events = [r for r in records if dict(r.headers).get("ce_type")]
    assert len(events) == 200 and len(envelopes) == 200
    assert {Envelope.from_headers(r.headers).id for r in events} == {e.id for e in envelopes}
    partitions = list(range(3))
    for device in devices:
        mine = [r for r in events if r.key == device.encode()]
        serials = [PositionReported.FromString(r.value).origin.message_serial for r in mine]
        assert serials == list(range(40))
        expected = CachedPartitioner()(device.encode(), partitions, partitions)
        assert {r.partition for r in mine} == {expected}
    raw = [r.value for r in records if not r.headers]
    assert [v for v in raw if v.startswith(b"few")] == [b"few-%d" % i for i in range(3)]
    assert [v for v in raw if v.startswith(b"many")] == [b"many-%d" % i for i in range(30)]


async def test_group_commit_sends_concurrent_callers_together_in_order_per_key(
    kafka_settings: KafkaSettings, make_topic: MakeTopic
) -> None:
    """CoalescingPublisher (ingest's publisher): 40 callers, each publishing one event at a time
    and the next only once it is acknowledged, as a device connection does. Their calls go out
    as batches built per partition, a few records each: every record lands once, in order per
    key, on the partition ``send`` would have chosen, and each caller got its own envelopes."""
    topic = await make_topic(partitions=3)
    inner = EventPublisher.create(kafka_settings, source="/tests/group-commit")
    sends: list[int] = []
    original = inner.publish_many

    async def counted(items: Sequence[Outgoing], *, as_batches: bool = False) -> list[Envelope]:
        assert as_batches  # every group commit goes as batches, however few records
        sends.append(len(items))
        return await original(items, as_batches=as_batches)

    inner.publish_many = counted  # type: ignore[method-assign]
    publisher = CoalescingPublisher(inner)
    await publisher.start()
    devices = [f"dev-{n}" for n in range(40)]
    envelopes: dict[str, list[str]] = {d: [] for d in devices}

    async def device(device_id: str) -> None:
        for serial in range(15):
            [envelope] = await publisher.publish_many(
                [Outgoing(topic, _position(device_id, serial), key=device_id)]
            )
            assert envelope.subject == device_id
            envelopes[device_id].append(envelope.id)

    try:
        await asyncio.gather(*(device(d) for d in devices))
    finally:
        await publisher.stop()

    assert sum(sends) == 600 and len(sends) < 600 / 4  # coalesced, not one send per call
    records = await read_all(kafka_settings, topic)
    assert len(records) == 600
    partitions = list(range(3))
    for device_id in devices:
        mine = [r for r in records if r.key == device_id.encode()]
        serials = [PositionReported.FromString(r.value).origin.message_serial for r in mine]
        assert serials == list(range(15))
        assert [Envelope.from_headers(r.headers).id for r in mine] == envelopes[device_id]
        expected = CachedPartitioner()(device_id.encode(), partitions, partitions)
        assert {r.partition for r in mine} == {expected}
