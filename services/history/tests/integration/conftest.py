"""History against the real stack: positions published to Kafka, read back over gRPC."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from history.bootstrap import HistoryApp, bootstrap
from history.config import HistorySettings
from tests.integration.helpers import start_group_at_end
from trackstream.history.v1 import history_service_pb2 as pb
from trackstream.history.v1 import history_service_pb2_grpc as pb_grpc
from trackstream.tracking.v1.fix_pb2 import Fix, Origin
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import KafkaSettings
from trackstream_kafka.erasure import ORDERS_TOPIC

StartHistory = Callable[..., Coroutine[Any, Any, HistoryApp]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def ts(when: datetime) -> Timestamp:
    t = Timestamp()
    t.FromDatetime(when)
    return t


def position(
    device_id: str, when: datetime, serial: int, *, archived: bool = False, **fix: Any
) -> PositionReported:
    values: dict[str, Any] = {
        "latitude": 41.0 + serial / 10_000,
        "longitude": 29.0,
        "speed_kmh": 30.0,
        "valid": True,
    }
    values.update(fix)
    return PositionReported(
        device_id=device_id,
        fix=Fix(fix_time=ts(when), **values),
        received_time=ts(datetime.now(UTC)),
        origin=Origin(message_serial=serial),
        archived=archived,
    )


@pytest.fixture
async def start_history() -> AsyncIterator[StartHistory]:
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
    erasure_groups: set[str] = set()

    async def start(**overrides: Any) -> HistoryApp:
        values: dict[str, Any] = {
            "grpc_port": 0,
            "consumer_group": f"history-test-{uuid.uuid4().hex[:8]}",
        }
        settings = HistorySettings(**(values | overrides))
        erasure_group = f"{settings.consumer_group}-erasure"
        if erasure_group not in erasure_groups:  # not while an instance is in it
            await start_group_at_end(KafkaSettings(), erasure_group, ORDERS_TOPIC)
            erasure_groups.add(erasure_group)
        app = bootstrap(settings)
        stopping = asyncio.Event()
        task = asyncio.create_task(app.run(stopping))
        running.append((stopping, task))
        ready = asyncio.create_task(app.ready.wait())
        await asyncio.wait({ready, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        return app

    yield start
    for stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 60)


async def track(
    app: HistoryApp, device_id: str, start: datetime, end: datetime, page_size: int = 1000
) -> list[pb.TrackPoint]:
    """Every point of the range, following the pages."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        stub = pb_grpc.HistoryServiceStub(channel)
        points: list[pb.TrackPoint] = []
        token = ""
        while True:
            response = await stub.GetTrack(
                pb.GetTrackRequest(
                    device_id=device_id,
                    start_time=ts(start),
                    end_time=ts(end),
                    page_size=page_size,
                    page_token=token,
                )
            )
            points += response.points
            token = response.next_page_token
            if not token:
                return points


async def wait_for_points(
    app: HistoryApp, device_id: str, start: datetime, end: datetime, count: int, within: float
) -> list[pb.TrackPoint]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    points: list[pb.TrackPoint] = []
    while True:
        try:
            points = await track(app, device_id, start, end)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE:  # the store is still coming back
                raise
        if len(points) >= count or loop.time() > deadline:
            return points
        await asyncio.sleep(0.1)


DAY = timedelta(days=1)
