from __future__ import annotations

import pytest

from alarm.domain.catalogue import AlarmType, Severity, normalise, severity
from trackstream.alarm.v1 import alarm_pb2


def test_the_python_catalogue_mirrors_the_proto_enum() -> None:
    proto = {
        name.removeprefix("ALARM_TYPE_"): number for name, number in alarm_pb2.AlarmType.items()
    }
    assert proto == {t.name: t.value for t in AlarmType}
    assert {n.removeprefix("SEVERITY_"): v for n, v in alarm_pb2.Severity.items()} == {
        s.name: s.value for s in Severity
    }


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("sos", 0x01, AlarmType.SOS),
        ("powerCut", 0x02, AlarmType.POWER_CUT),
        ("vibration", 0x03, AlarmType.VIBRATION),
        ("lowBattery", 0x0F, AlarmType.LOW_BATTERY),
        ("tampering", 0x13, AlarmType.TAMPER),
        ("removing", 0x18, AlarmType.REMOVAL),
        ("hardAcceleration", 0x0400, AlarmType.HARSH_ACCELERATION),
        ("hardBraking", 0x91, AlarmType.HARSH_BRAKING),
        ("hardCornering", 0x92, AlarmType.HARSH_CORNERING),
        ("accident", 0x93, AlarmType.COLLISION),
        ("fatigueDriving", 2, AlarmType.FATIGUE),
        ("laneChange", 0x0415, AlarmType.LANE_CHANGE),
        ("adas", 0x01, AlarmType.FORWARD_COLLISION),
        ("adas", 0x02, AlarmType.LANE_DEPARTURE),
        ("dms", 0x01, AlarmType.FATIGUE),
        ("dms", 0x02, AlarmType.PHONE),
        ("dms", 0x03, AlarmType.SMOKING),
        ("dms", 0x04, AlarmType.DISTRACTION),
        ("DMS", 0x05, AlarmType.DRIVER_ABSENT),
        ("dms", 0x7F, AlarmType.DEVICE_OTHER),
        ("general", 0x00, AlarmType.DEVICE_OTHER),
        ("somethingNew", 0x42, AlarmType.DEVICE_OTHER),
    ],
)
def test_device_alarms_of_both_protocols_map_to_the_catalogue(
    name: str, code: int, expected: AlarmType
) -> None:
    assert normalise(name, code) is expected
    assert expected.from_device


def test_severity() -> None:
    assert severity(AlarmType.SOS) is Severity.CRITICAL
    assert severity(AlarmType.OVERSPEED) is Severity.WARNING
    assert severity(AlarmType.IGNITION_ON) is Severity.INFO
    assert not AlarmType.GEOFENCE_ENTER.from_device
