from __future__ import annotations

from aiokafka import ConsumerRecord

from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.envelope import Envelope
from trackstream_events.registry import default_registry
from trackstream_kafka.tail import render


def _record(value: bytes | None, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="tracking.positions.v1", partition=1, offset=7, timestamp=0, timestamp_type=0,
        key=b"dev-1", value=value, checksum=None, serialized_key_size=5,
        serialized_value_size=len(value or b""), headers=headers,
    )  # fmt: skip


def test_an_event_is_rendered_with_its_envelope_and_decoded_data() -> None:
    envelope = Envelope(
        type="trackstream.tracking.v1.PositionReported", source="/ingest", subject="dev-1"
    )
    event = PositionReported(device_id="dev-1", archived=True)
    out = render(_record(event.SerializeToString(), envelope.to_headers()), default_registry())
    assert out["key"] == "dev-1" and out["id"] == envelope.id and out["offset"] == 7
    assert out["data"] == {"device_id": "dev-1", "archived": True}


def test_tombstones_and_broken_records_are_described_not_fatal() -> None:
    registry = default_registry()
    assert render(_record(None, []), registry)["tombstone"] is True
    assert "lack" in render(_record(b"x", []), registry)["error"]
    unknown = Envelope(type="trackstream.future.v9.Thing", source="/x", subject="dev-1")
    assert "UnknownEventType" in render(_record(b"", unknown.to_headers()), registry)["error"]
