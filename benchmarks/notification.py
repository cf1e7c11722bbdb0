"""Notification end to end on the real Kafka and Cassandra: alarms published to a topic, the
service in-process claims every delivery (LWT), takes each attempt (compare-and-set), signs and
POSTs the webhook to a local HTTP receiver, and records ``sent``.

* throughput: deliveries per second from the first alarm published to the last webhook
  received (``ALARMS`` alarms x ``SUBSCRIPTIONS`` webhook subscriptions of one account), against
  a baseline of the same number of signed POSTs sent straight to the same receiver with httpx
  at the same concurrency (no Kafka, no Cassandra): what the delivery guarantees cost;
* latency: p50/p99 from the alarm's time (set at publish) to the receiver's arrival, with alarms
  paced at ``PACE_PER_S`` so the service is not saturated.

The service consumes a benchmark topic (``bench.notification-alarms-<id>.v1``), not
alarm.alarms.v1: nothing else sees the benchmark's alarms. Run: ``python -m
benchmarks.notification``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

import notification.bootstrap as notification_bootstrap
from benchmarks.common import Result
from notification.bootstrap import bootstrap
from notification.config import NotificationSettings
from notification.domain.model import signature_header
from trackstream.alarm.v1 import alarm_pb2
from trackstream.notification.v1 import notification_service_pb2 as pb
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream_events.catalog import CleanupPolicy, ErasureClass, PersonalData, Topic
from trackstream_kafka import EventPublisher, KafkaSettings, Outgoing, PublishError
from trackstream_kafka.admin import ensure_topics

ALARMS = 1000
SUBSCRIPTIONS = 4
LATENCY_ALARMS = 300
PACE_PER_S = 20.0
CONCURRENCY = 4  # per receiver, the service's default
SECRET = "bench-secret-0123456789"


class Receiver:
    """A keep-alive HTTP/1.1 receiver on loopback: answers 200 and notes the first arrival of
    each delivery of the alarms it waits for. (On a machine where another notification
    instance shares the Cassandra work list, e.g. the local stack's, that one may send some of
    the benchmark's deliveries as well, or late: counting each delivery id once, and only the
    current phase's alarms, keeps the figures about this phase.)"""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.expected = 0
        self.done = asyncio.Event()
        #: alarm ids of the current phase (None: every body counts)
        self.wanted: set[str] | None = None
        self._seen: set[str] = set()

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def expect(self, count: int, alarm_ids: set[str] | None = None) -> None:
        self.arrivals.clear()
        self._seen.clear()
        self.wanted = alarm_ids
        self.expected = count
        self.done.clear()

    def _note(self, body: bytes) -> None:
        if self.wanted is not None:
            document = json.loads(body)
            if document.get("alarm_id") not in self.wanted:
                return
            if document["delivery_id"] in self._seen:
                return
            self._seen.add(document["delivery_id"])
        self.arrivals.append((time.time(), body))
        if len(self.arrivals) >= self.expected:
            self.done.set()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                self._note(body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


def _alarm(device_id: str, account_id: str) -> alarm_pb2.AlarmRaised:
    raised = alarm_pb2.AlarmRaised(
        alarm_id=str(uuid.uuid4()),
        device_id=device_id,
        owner_account_id=account_id,
        type=alarm_pb2.ALARM_TYPE_OVERSPEED,
        severity=alarm_pb2.SEVERITY_WARNING,
        fix=Fix(latitude=52.52, longitude=13.405, valid=True),
    )
    raised.alarm_time.FromDatetime(datetime.now(UTC))
    return raised


async def raw_rate(receiver: Receiver, count: int) -> float:
    """The same signed POSTs straight to the receiver, CONCURRENCY per endpoint."""
    receiver.expect(count)
    slots = [asyncio.Semaphore(CONCURRENCY) for _ in range(SUBSCRIPTIONS)]
    async with httpx.AsyncClient() as client:

        async def post(i: int) -> None:
            body = json.dumps({"alarm_id": str(uuid.uuid4()), "n": i}).encode()
            async with slots[i % SUBSCRIPTIONS]:
                stamp = int(time.time())
                await client.post(
                    f"http://127.0.0.1:{receiver.port}/hook/{i % SUBSCRIPTIONS}",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Trackstream-Signature": signature_header(SECRET, stamp, body),
                    },
                )

        started = time.perf_counter()
        await asyncio.gather(*(post(i) for i in range(count)))
        return count / (time.perf_counter() - started)


async def measure() -> dict[str, float]:
    kafka = KafkaSettings()
    topic = f"bench.notification-alarms-{uuid.uuid4().hex[:8]}.v1"
    await ensure_topics(
        kafka,
        (
            Topic(
                name=topic,
                owner="benchmarks",
                key="device_id",
                value_types=(),
                partitions=3,
                cleanup_policy=CleanupPolicy.DELETE,
                retention_ms=3_600_000,
                personal_data=PersonalData.NONE,
                erasure=ErasureClass.RETENTION,
                description="notification benchmark",
            ),
        ),
    )
    # the service's inputs, in this process only
    vars(notification_bootstrap)["ALARMS"] = topic
    vars(notification_bootstrap)["COMMAND_RESULTS"] = topic
    vars(notification_bootstrap)["MEDIA"] = topic
    receiver = await Receiver().start()
    settings = NotificationSettings(
        grpc_port=0,
        consumer_group=f"bench-notification-{uuid.uuid4().hex[:8]}",
        new_group_start="earliest",
        geocoding_address="",
        webhook_allow_http=True,
        webhook_allowed_networks="127.0.0.0/8",  # the receiver is on loopback
        receiver_concurrency=CONCURRENCY,
        sweep_interval_s=5.0,
    )
    app = bootstrap(settings)
    stopping = asyncio.Event()
    task = asyncio.create_task(app.run(stopping))
    await asyncio.wait(
        {asyncio.create_task(app.ready.wait()), task}, return_when=asyncio.FIRST_COMPLETED
    )
    if task.done():
        task.result()
    account = f"bench-{uuid.uuid4().hex[:8]}"
    publisher = EventPublisher.create(kafka, source="/benchmarks/notification")
    await publisher.start()
    try:
        for i in range(SUBSCRIPTIONS):
            subscription = pb.Subscription(
                subscription_id=f"{account}-{i}",
                account_id=account,
                channels=[pb.CHANNEL_WEBHOOK],
                webhook_url=f"http://127.0.0.1:{receiver.port}/hook/{i}",
                webhook_secret=SECRET,
            )
            await app.store.put_subscription(subscription)
            app.subscriptions.put(subscription)
        devices = [f"bench-dev-{i}" for i in range(50)]

        # throughput: every alarm at once
        deliveries = ALARMS * SUBSCRIPTIONS
        alarms = [_alarm(devices[i % len(devices)], account) for i in range(ALARMS)]
        receiver.expect(deliveries, {a.alarm_id for a in alarms})
        started = time.perf_counter()
        for attempt in range(10):  # a new topic's leaders take a moment to be elected
            try:
                await publisher.publish_many([Outgoing(topic, a, key=a.device_id) for a in alarms])
                break
            except PublishError:
                if attempt == 9:
                    raise
                await asyncio.sleep(1)
        await asyncio.wait_for(receiver.done.wait(), 600)
        service_rate = deliveries / (time.perf_counter() - started)
        print(f"  service {service_rate:,.0f} deliveries/s", file=sys.stderr, flush=True)
        raw = await raw_rate(receiver, deliveries)
        print(f"  raw POSTs {raw:,.0f}/s", file=sys.stderr, flush=True)

        # latency: paced alarms, alarm time -> arrival at the receiver
        paced = [_alarm(devices[i % len(devices)], account) for i in range(LATENCY_ALARMS)]
        receiver.expect(LATENCY_ALARMS * SUBSCRIPTIONS, {a.alarm_id for a in paced})
        for raised in paced:
            raised.alarm_time.FromDatetime(datetime.now(UTC))
            await publisher.publish(topic, raised, key=raised.device_id)
            await asyncio.sleep(1 / PACE_PER_S)
        await asyncio.wait_for(receiver.done.wait(), 120)
        latencies = []
        for arrived, body in receiver.arrivals:
            sent = datetime.fromisoformat(json.loads(body)["alarm_time"]).timestamp()
            latencies.append((arrived - sent) * 1000)
        q = statistics.quantiles(latencies, n=100)
    finally:
        await publisher.stop()
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 60)
        await receiver.stop()
    return {
        "service": service_rate,
        "raw": raw,
        "deliveries": deliveries,
        "latency_p50_ms": statistics.median(latencies),
        "latency_p99_ms": q[98],
        "latency_max_ms": max(latencies),
        "latency_samples": len(latencies),
    }


def run() -> Result:
    m: dict[str, Any] = asyncio.run(measure())
    return Result(
        name="notification webhooks",
        value=m["service"],
        baseline=m["raw"],
        unit="deliv/s",
        ratio=m["service"] / m["raw"],
        details={
            "deliveries": m["deliveries"],
            "alarms": ALARMS,
            "subscriptions": SUBSCRIPTIONS,
            "latency_p50_ms": round(m["latency_p50_ms"], 1),
            "latency_p99_ms": round(m["latency_p99_ms"], 1),
            "latency_max_ms": round(m["latency_max_ms"], 1),
            "latency_samples": m["latency_samples"],
            "latency_pace_per_s": PACE_PER_S,
        },
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print("  ", result.details)
