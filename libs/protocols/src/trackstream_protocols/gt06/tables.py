"""GT06 code tables mapped to Traccar's alarm vocabulary (protocols.md §4 and §7).

Only the default (model-independent) meanings are encoded; model-specific overrides listed in
protocols.md §4 (e.g. 0x09 = tow on VL103/LL303) need the device model, which the codec does not
know.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ALARM_CODES",
    "DASHCAM_EVENT_CODES",
    "STATUS_ALARM_BITS",
    "alarm_for_code",
    "dashcam_alarm_for_code",
]

#: alarm byte (12 bits for 0x27/0xA4) of the GPS+LBS+status alarm packets -> Traccar alarm
ALARM_CODES: Final = MappingProxyType(
    {
        0x01: "sos",
        0x02: "powerCut",
        0x03: "vibration",
        0x04: "geofenceEnter",
        0x05: "geofenceExit",
        0x06: "overspeed",
        0x09: "vibration",
        0x0C: "tampering",
        0x0E: "lowBattery",
        0x0F: "lowBattery",
        0x11: "powerOff",
        0x13: "tampering",
        0x14: "door",
        0x18: "removing",
        0x19: "lowBattery",
        0x1A: "hardBraking",
        0x1B: "hardCornering",
        0x23: "fallDown",
        0x25: "tampering",
        0x26: "hardAcceleration",
        0x27: "hardBraking",
        0x28: "hardBraking",
        0x29: "hardAcceleration",
        0x2A: "hardCornering",
        0x2B: "hardCornering",
        0x2C: "accident",
        0x2E: "hardCornering",
        0x30: "jamming",
        0x32: "tampering",
        0x33: "lock",
        0x34: "unlock",
        0x53: "fuelLeak",
        0x5B: "temperature",
        0x5C: "temperature",
        0xC9: "idle",
        0xF0: "hardAcceleration",
        0xF1: "hardBraking",
        0xF2: "accident",
        0x0107: "jamming",
        0x010B: "jamming",
    }
)

#: terminal-information byte bits 3..5 -> Traccar alarm (bit pattern 5 has no meaning)
STATUS_ALARM_BITS: Final = MappingProxyType(
    {
        1: "vibration",
        2: "powerCut",
        3: "lowBattery",
        4: "sos",
        6: "geofence",
        7: "removing",
    }
)

#: 0x95 (JC100/JC261/JC400 dashcam) event type -> Traccar alarm; 0x01 is "sos" only in the
#: extended (GPS-carrying) form, "general" in the short form
DASHCAM_EVENT_CODES: Final = MappingProxyType(
    {
        0x01: "sos",
        0x0E: "lowPower",
        0x76: "temperature",
        0x80: "vibration",
        0x87: "overspeed",
        0x88: "powerCut",
        0x90: "hardAcceleration",
        0x91: "hardBraking",
        0x92: "hardCornering",
        0x93: "accident",
    }
)


def alarm_for_code(code: int) -> str | None:
    """Traccar alarm name for a GT06 alarm code; None for "normal" and unknown codes."""
    return ALARM_CODES.get(code)


def dashcam_alarm_for_code(code: int, *, extended: bool) -> str:
    """Traccar alarm name for a 0x95 event code; unknown codes are "general"."""
    if code == 0x01 and not extended:
        return "general"
    return DASHCAM_EVENT_CODES.get(code, "general")
