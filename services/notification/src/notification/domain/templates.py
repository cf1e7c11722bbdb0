"""Message templates: title and body of an alarm, with the place and the local time."""

from __future__ import annotations

from datetime import datetime
from string import Template
from zoneinfo import ZoneInfo

from trackstream.alarm.v1 import alarm_pb2

TITLES = {
    "en": Template("$alarm on $device"),
    "de": Template("$alarm an $device"),
}
BODIES = {
    "en": Template("$alarm on $device at $time ($zone), $place."),
    "de": Template("$alarm an $device um $time ($zone), $place."),
}


def alarm_label(alarm_type: int) -> str:
    """``ALARM_TYPE_GEOFENCE_ENTER`` -> ``Geofence enter``."""
    try:
        name = alarm_pb2.AlarmType.Name(alarm_type)  # type: ignore[arg-type]
    except ValueError:
        return f"Alarm {alarm_type}"
    return name.removeprefix("ALARM_TYPE_").replace("_", " ").capitalize()


def coordinates(latitude: float, longitude: float) -> str:
    return f"{latitude:.5f}, {longitude:.5f}"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def render(
    *,
    alarm_type: int,
    device_label: str,
    when: datetime,
    zone: ZoneInfo,
    place: str,
    locale: str = "en",
) -> tuple[str, str]:
    """(title, body) of one alarm in the subscription's language and zone."""
    language = locale.split("-")[0].lower() if locale else "en"
    title = TITLES.get(language, TITLES["en"])
    body = BODIES.get(language, BODIES["en"])
    values = {
        "alarm": alarm_label(alarm_type),
        "device": device_label,
        "time": local_time(when, zone),
        "zone": zone.key,
        "place": place or "position unknown",
    }
    return title.substitute(values), body.substitute(values)
