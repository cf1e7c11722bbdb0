"""The fake publisher keeps the real publisher's contract, so handler tests stay honest."""

from __future__ import annotations

import inspect

import pytest

from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_kafka import EventPublisher, PublishError
from trackstream_testing import FakePublisher


@pytest.mark.parametrize(
    "method", ["start", "stop", "publish", "publish_many", "publish_tombstone"]
)
def test_fake_publisher_has_the_real_signatures(method: str) -> None:
    real = inspect.signature(getattr(EventPublisher, method))
    fake = inspect.signature(getattr(FakePublisher, method))
    assert list(real.parameters) == list(fake.parameters)


async def test_fake_publisher_records_and_can_fail() -> None:
    fake = FakePublisher(source="/ingest/gt06")
    envelope = await fake.publish("tracking.positions.v1", PositionReported(device_id="d"), key="d")
    assert envelope.type == "trackstream.tracking.v1.PositionReported"
    assert [p.key for p in fake.on("tracking.positions.v1")] == ["d"]
    fake.fail_next = PublishError("not acknowledged")
    with pytest.raises(PublishError):
        await fake.publish("tracking.positions.v1", PositionReported(), key="d")
    assert len(fake.published) == 1
