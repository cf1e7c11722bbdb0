"""The one alarm catalogue, and how device-reported alarms of every protocol map onto it.

Ingest names a device alarm in Traccar's vocabulary (``sos``, ``powerCut``, ``hardBraking``, ...)
and keeps the protocol's own code. Dashcams' active-safety alarms (T/JSATL12 ADAS item 0x64, DMS
item 0x65, Jimi's composite 264-x / 265-x codes) arrive as ``adas`` / ``dms`` with the sub-code.
Everything maps to :class:`AlarmType`; what the table does not name becomes ``DEVICE_OTHER``
and still carries its original name and code.

The values mirror ``trackstream.alarm.v1.AlarmType`` (a unit test keeps them equal).
"""

from __future__ import annotations

from enum import IntEnum


class AlarmType(IntEnum):
    UNSPECIFIED = 0
    SOS = 1
    POWER_CUT = 2
    VIBRATION = 3
    LOW_BATTERY = 4
    TAMPER = 5
    REMOVAL = 6
    HARSH_ACCELERATION = 7
    HARSH_BRAKING = 8
    HARSH_CORNERING = 9
    COLLISION = 10
    FATIGUE = 11
    DISTRACTION = 12
    PHONE = 13
    SMOKING = 14
    FORWARD_COLLISION = 15
    LANE_DEPARTURE = 16
    DEVICE_OVERSPEED = 17
    DEVICE_GEOFENCE_ENTER = 18
    DEVICE_GEOFENCE_EXIT = 19
    LOW_POWER = 20
    POWER_OFF = 21
    POWER_RESTORED = 22
    DOOR = 23
    TOW = 24
    JAMMING = 25
    GPS_ANTENNA_CUT = 26
    FAULT = 27
    FALL_DOWN = 28
    TEMPERATURE = 29
    FUEL_LEAK = 30
    DEVICE_MOVEMENT = 31
    DEVICE_PARKING = 32
    DEVICE_IDLE = 33
    LOCK = 34
    UNLOCK = 35
    DRIVER_ABSENT = 36
    CAMERA_BLOCKED = 37
    YAWNING = 38
    PEDESTRIAN_COLLISION = 39
    HEADWAY = 40
    BLIND_SPOT = 41
    LANE_CHANGE = 42
    DEVICE_OTHER = 99
    GEOFENCE_ENTER = 100
    GEOFENCE_EXIT = 101
    GEOFENCE_DWELL = 102
    OVERSPEED = 103
    OFFLINE = 104
    IGNITION_ON = 105
    IGNITION_OFF = 106
    IDLE = 107
    PARKED_TOO_LONG = 108
    LOW_BATTERY_THRESHOLD = 109
    MOVEMENT_WHILE_ARMED = 110

    @property
    def from_device(self) -> bool:
        return 0 < self.value < 100


class Severity(IntEnum):
    UNSPECIFIED = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3


#: Traccar alarm names (ingest's vocabulary, plus active-safety names) -> catalogue
_BY_NAME: dict[str, AlarmType] = {
    "sos": AlarmType.SOS,
    "powerCut": AlarmType.POWER_CUT,
    "vibration": AlarmType.VIBRATION,
    "lowBattery": AlarmType.LOW_BATTERY,
    "lowPower": AlarmType.LOW_POWER,
    "tampering": AlarmType.TAMPER,
    "removing": AlarmType.REMOVAL,
    "hardAcceleration": AlarmType.HARSH_ACCELERATION,
    "hardBraking": AlarmType.HARSH_BRAKING,
    "hardCornering": AlarmType.HARSH_CORNERING,
    "accident": AlarmType.COLLISION,
    "fatigueDriving": AlarmType.FATIGUE,
    "overspeed": AlarmType.DEVICE_OVERSPEED,
    "geofenceEnter": AlarmType.DEVICE_GEOFENCE_ENTER,
    "geofenceExit": AlarmType.DEVICE_GEOFENCE_EXIT,
    "powerOff": AlarmType.POWER_OFF,
    "powerOn": AlarmType.POWER_RESTORED,
    "powerRestored": AlarmType.POWER_RESTORED,
    "door": AlarmType.DOOR,
    "tow": AlarmType.TOW,
    "jamming": AlarmType.JAMMING,
    "gpsAntennaCut": AlarmType.GPS_ANTENNA_CUT,
    "fault": AlarmType.FAULT,
    "fallDown": AlarmType.FALL_DOWN,
    "temperature": AlarmType.TEMPERATURE,
    "fuelLeak": AlarmType.FUEL_LEAK,
    "movement": AlarmType.DEVICE_MOVEMENT,
    "parking": AlarmType.DEVICE_PARKING,
    "idle": AlarmType.DEVICE_IDLE,
    "lock": AlarmType.LOCK,
    "unlock": AlarmType.UNLOCK,
    "laneChange": AlarmType.LANE_CHANGE,
    # active safety by name (OsmAnd clients, vendor gateways)
    "distraction": AlarmType.DISTRACTION,
    "phoneCall": AlarmType.PHONE,
    "smoking": AlarmType.SMOKING,
    "forwardCollision": AlarmType.FORWARD_COLLISION,
    "laneDeparture": AlarmType.LANE_DEPARTURE,
    "driverAbsent": AlarmType.DRIVER_ABSENT,
    "cameraBlocked": AlarmType.CAMERA_BLOCKED,
    "yawning": AlarmType.YAWNING,
    "pedestrianCollision": AlarmType.PEDESTRIAN_COLLISION,
    "headway": AlarmType.HEADWAY,
    "blindSpot": AlarmType.BLIND_SPOT,
}

#: T/JSATL12 ADAS alarm types (JT/T 808 additional item 0x64; Jimi 264-x)
_ADAS: dict[int, AlarmType] = {
    0x01: AlarmType.FORWARD_COLLISION,
    0x02: AlarmType.LANE_DEPARTURE,
    0x03: AlarmType.HEADWAY,
    0x04: AlarmType.PEDESTRIAN_COLLISION,
    0x05: AlarmType.LANE_CHANGE,
}

#: T/JSATL12 DMS alarm types (JT/T 808 additional item 0x65; Jimi 265-x)
_DMS: dict[int, AlarmType] = {
    0x01: AlarmType.FATIGUE,
    0x02: AlarmType.PHONE,
    0x03: AlarmType.SMOKING,
    0x04: AlarmType.DISTRACTION,
    0x05: AlarmType.DRIVER_ABSENT,
    0x06: AlarmType.CAMERA_BLOCKED,
    0x0A: AlarmType.YAWNING,
}

#: blind-spot detection (Jimi 266-x): every sub-code is a blind-spot warning
_BSD_NAMES = frozenset({"bsd", "blindSpotDetection"})

_CRITICAL = frozenset(
    {
        AlarmType.SOS,
        AlarmType.POWER_CUT,
        AlarmType.TAMPER,
        AlarmType.REMOVAL,
        AlarmType.COLLISION,
        AlarmType.FORWARD_COLLISION,
        AlarmType.PEDESTRIAN_COLLISION,
        AlarmType.FATIGUE,
        AlarmType.DRIVER_ABSENT,
        AlarmType.FALL_DOWN,
        AlarmType.TOW,
        AlarmType.JAMMING,
        AlarmType.MOVEMENT_WHILE_ARMED,
    }
)
_INFO = frozenset(
    {
        AlarmType.IGNITION_ON,
        AlarmType.IGNITION_OFF,
        AlarmType.GEOFENCE_DWELL,
        AlarmType.POWER_RESTORED,
        AlarmType.LOCK,
        AlarmType.UNLOCK,
        AlarmType.DEVICE_PARKING,
        AlarmType.DEVICE_IDLE,
        AlarmType.IDLE,
        AlarmType.PARKED_TOO_LONG,
        AlarmType.DOOR,
    }
)


def normalise(protocol_alarm_type: str, protocol_code: int) -> AlarmType:
    """The catalogue entry of a device alarm (``DEVICE_OTHER`` for what the table lacks)."""
    name = protocol_alarm_type.strip()
    if name.lower() == "adas":
        return _ADAS.get(protocol_code & 0xFF, AlarmType.DEVICE_OTHER)
    if name.lower() == "dms":
        return _DMS.get(protocol_code & 0xFF, AlarmType.DEVICE_OTHER)
    if name in _BSD_NAMES:
        return AlarmType.BLIND_SPOT
    return _BY_NAME.get(name, AlarmType.DEVICE_OTHER)


def severity(alarm_type: AlarmType) -> Severity:
    if alarm_type in _CRITICAL:
        return Severity.CRITICAL
    if alarm_type in _INFO:
        return Severity.INFO
    return Severity.WARNING
