"""Scripted tracks through fences and speed limits on the real Kafka and Cassandra."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from alarm.bootstrap import AlarmApp
from services.alarm.tests.integration.conftest import (
    AlarmRunner,
    AlarmTap,
    names,
    position,
    publish,
    register_fleet,
    stub,
    ts,
)
from trackstream.alarm.v1 import alarm_pb2, geofence_pb2
from trackstream.alarm.v1 import alarm_service_pb2 as pb
from trackstream.tracking.v1.alarm_pb2 import DeviceAlarmReported
from trackstream.tracking.v1.fix_pb2 import Fix

DEPOT = geofence_pb2.Polygon(
    vertices=[
        geofence_pb2.LatLng(latitude=41.001, longitude=29.0),
        geofence_pb2.LatLng(latitude=41.001, longitude=29.01),
        geofence_pb2.LatLng(latitude=41.002, longitude=29.01),
        geofence_pb2.LatLng(latitude=41.002, longitude=29.0),
    ]
)
#: (seconds, latitude, speed km/h, ignition): through the depot, twice over 90 km/h
TRACK = [
    (0, 41.0, 0, False),
    (10, 41.0, 0, True),
    (20, 41.0005, 40, True),
    (30, 41.0015, 50, True),  # enters the depot
    (40, 41.0016, 95, True),
    (50, 41.0017, 92, True),  # 10 s over the limit: overspeed
    (60, 41.0018, 88, True),  # hysteresis band: the same overspeed
    (70, 41.0025, 96, True),  # leaves the depot
    (80, 41.0035, 60, True),  # cleared
    (90, 41.0045, 97, True),
    (100, 41.0055, 97, True),  # a second overspeed
    (110, 41.0065, 0, False),
]
EXPECTED = [
    "IGNITION_ON",
    "GEOFENCE_ENTER",
    "OVERSPEED",
    "GEOFENCE_EXIT",
    "OVERSPEED",
    "IGNITION_OFF",
]


def track(device_id: str, start: datetime) -> list:
    return [
        position(device_id, start + timedelta(seconds=s), lat, 29.005, speed, ign)
        for s, lat, speed, ign in TRACK
    ]


async def configure(app: AlarmApp, account_id: str, *device_ids: str) -> None:
    """The depot (every device of the account), overspeed for ``device_ids``, ignition."""
    channel, api = stub(app)
    async with channel:
        await api.PutGeofence(
            pb.PutGeofenceRequest(
                geofence=geofence_pb2.Geofence(
                    account_id=account_id,
                    name="depot",
                    polygon=DEPOT,
                    alarm_on_enter=True,
                    alarm_on_exit=True,
                )
            )
        )
        for rule in (
            geofence_pb2.Rule(
                account_id=account_id,
                kind=geofence_pb2.RULE_KIND_OVERSPEED,
                speed_limit_kmh=90,
                min_duration_s=10,
                device_ids=list(device_ids),
                enabled=True,
            ),
            geofence_pb2.Rule(
                account_id=account_id, kind=geofence_pb2.RULE_KIND_IGNITION, enabled=True
            ),
        ):
            await api.PutRule(pb.PutRuleRequest(rule=rule))


async def test_a_scripted_track_raises_the_exact_alarms_into_kafka_and_history(
    alarm_service: AlarmRunner, tap: AlarmTap
) -> None:
    fleet = await register_fleet()
    [device] = fleet.device_ids
    app = await alarm_service.start()
    await configure(app, fleet.account_id, device)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    await publish(track(device, start), "tracking.positions.v1")

    alarms = await tap.collect(device, len(EXPECTED))
    assert names(alarms) == EXPECTED
    assert [a.alarm_time.ToDatetime(tzinfo=UTC) - start for a in alarms] == [
        timedelta(seconds=s) for s in (10, 30, 50, 70, 100, 110)
    ]
    assert {a.owner_account_id for a in alarms} == {fleet.account_id}
    assert alarms[1].geofence_id and alarms[2].rule_id
    assert alarms[2].details["speed_kmh"] == "92"

    # the history: every alarm once, queryable by type, acknowledged and resolved
    channel, api = stub(app)
    async with channel:
        query = pb.ListAlarmsRequest(
            device_id=device, start_time=ts(start), end_time=ts(start + timedelta(hours=1))
        )
        records: list[pb.AlarmRecord] = []
        for _ in range(100):
            records = list((await api.ListAlarms(query)).alarms)
            if len(records) >= len(EXPECTED):
                break
            await asyncio.sleep(0.1)
        assert [r.alarm.alarm_id for r in records] == [a.alarm_id for a in alarms]
        query.types.append(alarm_pb2.ALARM_TYPE_OVERSPEED)
        query.page_size = 1
        first = await api.ListAlarms(query)
        query.page_token = first.next_page_token
        second = await api.ListAlarms(query)
        assert [r.alarm.type for r in [*first.alarms, *second.alarms]] == [
            alarm_pb2.ALARM_TYPE_OVERSPEED
        ] * 2
        acked = await api.AcknowledgeAlarm(
            pb.AlarmActionRequest(device_id=device, alarm_id=alarms[2].alarm_id, user_id="u-1")
        )
        assert acked.acknowledged_by == "u-1" and acked.HasField("acknowledged_time")
        resolved = await api.ResolveAlarm(
            pb.AlarmActionRequest(
                device_id=device, alarm_id=alarms[2].alarm_id, user_id="u-2", note="spoke to him"
            )
        )
        assert resolved.resolved_by == "u-2" and resolved.acknowledged_by == "u-1"
        assert resolved.note == "spoke to him"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await api.AcknowledgeAlarm(
                pb.AlarmActionRequest(device_id=device, alarm_id="nope", user_id="u-1")
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_device_alarms_are_normalised_with_their_protocol_code(
    alarm_service: AlarmRunner, tap: AlarmTap
) -> None:
    fleet = await register_fleet()
    [device] = fleet.device_ids
    await alarm_service.start()
    when = datetime.now(UTC).replace(microsecond=0)
    reported = [
        DeviceAlarmReported(
            device_id=device,
            alarm_type=name,
            protocol_code=code,
            alarm_time=ts(when + timedelta(seconds=i)),
            fix=Fix(fix_time=ts(when), latitude=41.0, longitude=29.0, valid=True),
        )
        for i, (name, code) in enumerate([("sos", 0x01), ("dms", 0x02), ("hardBraking", 0x91)])
    ]
    await publish(reported, "tracking.device-alarms.v1")
    await publish(reported[:1], "tracking.device-alarms.v1")  # a retransmission
    alarms = await tap.collect(device, 4)
    assert names(alarms) == ["SOS", "SOS", "PHONE", "HARSH_BRAKING"]
    assert alarms[0].alarm_id == alarms[1].alarm_id  # the retransmission: the same alarm
    assert [a.protocol_code for a in alarms[1:]] == [0x01, 0x02, 0x91]
    assert alarms[1].origin == alarm_pb2.ALARM_ORIGIN_DEVICE
    assert alarms[1].severity == alarm_pb2.SEVERITY_CRITICAL
    assert alarms[1].owner_account_id == fleet.account_id


async def test_offline_fires_when_a_device_stops_reporting(
    alarm_service: AlarmRunner, tap: AlarmTap
) -> None:
    fleet = await register_fleet()
    [device] = fleet.device_ids
    app = await alarm_service.start()
    channel, api = stub(app)
    async with channel:
        await api.PutRule(
            pb.PutRuleRequest(
                rule=geofence_pb2.Rule(
                    account_id=fleet.account_id,
                    kind=geofence_pb2.RULE_KIND_OFFLINE,
                    offline_after_s=30,
                    enabled=True,
                )
            )
        )
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=27)
    await publish(
        [
            position(device, last - timedelta(seconds=10), 41.0, 29.0, 30, True),
            position(device, last, 41.001, 29.0, 30, True),
        ],
        "tracking.positions.v1",
    )
    # nothing more comes: the sweep raises it once the 30 s have passed (in about 3 s)
    alarms = await tap.collect(device, 1, within=20, settle=2.0)
    assert names(alarms) == ["OFFLINE"]
    assert alarms[0].alarm_time.ToDatetime(tzinfo=UTC) == last + timedelta(seconds=30)
    assert alarms[0].fix.latitude == pytest.approx(41.001)
    assert datetime.now(UTC) >= last + timedelta(seconds=30)


async def test_bad_rule_input_is_refused_clearly_and_loses_nothing(
    alarm_service: AlarmRunner,
) -> None:
    fleet = await register_fleet()
    [device] = fleet.device_ids
    app = await alarm_service.start()
    channel, api = stub(app)
    bow_tie = geofence_pb2.Polygon(
        vertices=[
            geofence_pb2.LatLng(latitude=41.0, longitude=29.0),
            geofence_pb2.LatLng(latitude=41.01, longitude=29.01),
            geofence_pb2.LatLng(latitude=41.0, longitude=29.01),
            geofence_pb2.LatLng(latitude=41.01, longitude=29.0),
        ]
    )
    circle = geofence_pb2.Circle(
        center=geofence_pb2.LatLng(latitude=41.0, longitude=29.0), radius_m=0
    )

    def fence(**kw: Any) -> pb.PutGeofenceRequest:
        values: dict[str, Any] = {"account_id": fleet.account_id, "alarm_on_enter": True}
        values.update(kw)
        return pb.PutGeofenceRequest(geofence=geofence_pb2.Geofence(**values))

    async with channel:
        good = await api.PutGeofence(fence(polygon=DEPOT, name="depot"))
        cases = [
            (fence(polygon=bow_tie), grpc.StatusCode.INVALID_ARGUMENT, "intersects itself"),
            (fence(circle=circle), grpc.StatusCode.INVALID_ARGUMENT, "radius_m must be in (0"),
            (
                fence(polygon=DEPOT, device_ids=["dev-nobody"]),
                grpc.StatusCode.NOT_FOUND,
                "unknown device dev-nobody",
            ),
            (
                fence(polygon=DEPOT, account_id="acc-nobody"),
                grpc.StatusCode.NOT_FOUND,
                "unknown account acc-nobody",
            ),
        ]
        for request, code, reason in cases:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await api.PutGeofence(request)
            assert err.value.code() == code
            assert reason in (err.value.details() or "")
            assert "\n" not in (err.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await api.PutRule(
                pb.PutRuleRequest(
                    rule=geofence_pb2.Rule(
                        account_id=fleet.account_id,
                        kind=geofence_pb2.RULE_KIND_OVERSPEED,
                        device_ids=[device],
                    )
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "speed_limit_kmh" in (err.value.details() or "")
        listed = await api.ListGeofences(pb.ListRequest(account_id=fleet.account_id))
        assert [f.geofence_id for f in listed.geofences] == [good.geofence_id]
        await api.DeleteGeofence(pb.DeleteRequest(account_id=fleet.account_id, id=good.geofence_id))
        listed = await api.ListGeofences(pb.ListRequest(account_id=fleet.account_id))
        assert list(listed.geofences) == []
