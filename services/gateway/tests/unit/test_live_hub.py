"""Fan-out to WebSockets: only visible devices, bounded queues, closing on revocation."""

from __future__ import annotations

import json

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.adapters.live import LIVE_TOPICS, LiveHub, message_of
from gateway.domain.directory import Directory
from trackstream.alarm.v1 import alarm_pb2
from trackstream.tracking.v1 import alarm_pb2 as tracking_alarm_pb2
from trackstream.tracking.v1 import device_pb2, fix_pb2, position_pb2


def test_each_socket_gets_only_what_it_sees() -> None:
    hub = LiveHub(queue_size=10)
    a = hub.subscribe(lambda d: d in {"d1", "d2"}, "s-a")
    b = hub.subscribe(lambda d: d == "d3", "s-b")
    for device in ("d1", "d3", "d2", "d9"):
        hub.publish(device, {"type": "position", "device_id": device})
    got_a = [json.loads(a.queue.get_nowait() or "")["device_id"] for _ in range(a.queue.qsize())]
    got_b = [json.loads(b.queue.get_nowait() or "")["device_id"] for _ in range(b.queue.qsize())]
    assert got_a == ["d1", "d2"] and got_b == ["d3"]


def test_a_slow_socket_loses_messages_counted_not_memory() -> None:
    hub = LiveHub(queue_size=3)
    slow = hub.subscribe(lambda d: True, "s")
    for i in range(10):
        hub.publish("d1", {"i": i})
    assert slow.queue.qsize() == 3 and slow.dropped == 7


def test_revoking_a_credential_closes_its_sockets_even_when_full() -> None:
    directory = Directory()
    hub = LiveHub(queue_size=2)
    directory.on_revocation(hub.credential_revoked)
    mine = hub.subscribe(lambda d: True, "session-1")
    other = hub.subscribe(lambda d: True, "session-2")
    hub.publish("d1", {"n": 1})
    hub.publish("d1", {"n": 2})
    directory.revoke("session-1")
    items = [mine.queue.get_nowait() for _ in range(mine.queue.qsize())]
    assert items[-1] is None and mine.close_reason == "credential revoked"
    assert other.close_reason is None
    hub.publish("d1", {"n": 3})  # nothing more for a closing socket
    assert mine.queue.qsize() == 0


def test_records_become_typed_json_messages() -> None:
    now = Timestamp(seconds=1_780_000_000)
    position = position_pb2.PositionReported(
        device_id="d1",
        fix=fix_pb2.Fix(fix_time=now, latitude=41.5, longitude=29.25, speed_kmh=12.0, valid=True),
        ignition=True,
    )
    found = message_of("trackstream.tracking.v1.PositionReported", position.SerializeToString())
    assert found is not None
    device_id, message = found
    assert device_id == "d1"
    assert message["type"] == "position" and message["latitude"] == 41.5
    assert message["ignition"] is True and message["time"].endswith("Z")
    session = device_pb2.DeviceDisconnected(
        device_id="d1", disconnected_time=now, reason=device_pb2.DISCONNECT_REASON_IDLE_TIMEOUT
    )
    found = message_of("trackstream.tracking.v1.DeviceDisconnected", session.SerializeToString())
    assert found is not None and found[1] == {
        "type": "session",
        "device_id": "d1",
        "state": "disconnected",
        "time": "2026-05-28T20:26:40Z",
        "reason": "idle_timeout",
    }
    assert message_of("trackstream.tracking.v1.CommandRequested", b"") is None
    assert len(LIVE_TOPICS) == 5


def test_platform_alarms_stream_as_alarms_with_their_origin() -> None:
    now = Timestamp(seconds=1_780_000_000)
    raised = alarm_pb2.AlarmRaised(
        alarm_id="al-1",
        device_id="d1",
        owner_account_id="A1",
        type=alarm_pb2.ALARM_TYPE_GEOFENCE_ENTER,
        origin=alarm_pb2.ALARM_ORIGIN_PLATFORM,
        severity=alarm_pb2.SEVERITY_WARNING,
        alarm_time=now,
        geofence_id="g1",
        details={"speed_kmh": "42"},
    )
    found = message_of("trackstream.alarm.v1.AlarmRaised", raised.SerializeToString())
    assert found is not None
    device_id, message = found
    assert device_id == "d1"
    assert message["type"] == "alarm" and message["origin"] == "platform"
    assert message["alarm_type"] == "geofence_enter" and message["alarm_id"] == "al-1"
    assert message["geofence_id"] == "A1.g1" and message["severity"] == "warning"
    assert message["time"] == "2026-05-28T20:26:40Z" and message["details"] == {"speed_kmh": "42"}
    # a device alarm is streamed from tracking.device-alarms.v1 already: not twice
    raised.origin = alarm_pb2.ALARM_ORIGIN_DEVICE
    assert message_of("trackstream.alarm.v1.AlarmRaised", raised.SerializeToString()) is None
    device = tracking_alarm_pb2.DeviceAlarmReported(
        device_id="d1", alarm_type="sos", alarm_time=now
    )
    found = message_of("trackstream.tracking.v1.DeviceAlarmReported", device.SerializeToString())
    assert found is not None and found[1]["origin"] == "device" and found[1]["type"] == "alarm"


async def test_a_sealed_position_is_opened_by_the_shared_opener_and_a_shredded_one_skipped() -> (
    None
):
    from aiokafka import ConsumerRecord

    from trackstream_events.envelope import Envelope
    from trackstream_kafka.sealing import (
        SEALED_HEADER,
        DataKeys,
        InMemoryDataKeyStore,
        Shredded,
        keys_for_records,
        open_record,
        seal,
    )

    store = InMemoryDataKeyStore()
    keys = DataKeys(store)
    position = position_pb2.PositionReported(
        device_id="d1", fix=fix_pb2.Fix(latitude=41.5, longitude=29.25, valid=True)
    )
    envelope = Envelope(type="trackstream.tracking.v1.PositionReported", source="/t", subject="d1")
    value, header = seal(
        position,
        topic="tracking.positions.v1",
        record_key=b"d1",
        event_id=envelope.id.encode(),
        key=(await keys.for_sealing(["d1"]))["d1"],
    )
    record = ConsumerRecord(
        topic="tracking.positions.v1", partition=0, offset=0, timestamp=0, timestamp_type=0,
        key=b"d1", value=value, checksum=None, serialized_key_size=2,
        serialized_value_size=len(value), headers=[*envelope.to_headers(), (SEALED_HEADER, header)],
    )  # fmt: skip

    async def live(data_keys: DataKeys) -> object:
        wanted = await keys_for_records(data_keys, [[record]])
        return message_of(
            envelope.type,
            value,
            lambda event: open_record(event, record, envelope.id, wanted, data_keys),
        )

    found = await live(keys)
    assert found is not None and found[1]["latitude"] == 41.5  # type: ignore[index]
    await keys.destroy("d1")
    with pytest.raises(Shredded):  # run_live_feed skips it (skipped_shredded)
        await live(DataKeys(store))
