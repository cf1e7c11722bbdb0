"""Which alarm a picture or clip belongs to.

The rule (services/media/README.md, "Linking media to alarms"):

* same device;
* matching kind: a JT/T 808 upload's event code names its trigger (2 robbery/emergency -> SOS,
  3 collision/rollover -> COLLISION, 4/5/6 door events -> DOOR); codes 0 (platform order),
  1 (timer) and 7 (distance) are not alarms and never link. A Jimi HTTP upload carries an
  ``eventType`` whose values our sources do not list: any non-empty ``eventType`` links to a
  **device** alarm of any type (platform alarms, from rules and geofences, do not make a
  dashcam shoot). An upload answering a capture command never links;
* captured within ``window`` of the alarm time (either side: a clip may start before the
  alarm, a picture is taken just after it);
* the nearest such alarm in time (ties: the smaller alarm id). Whichever of the two arrives
  first waits (the media in the catalogue, the alarm in ``media_alarm_candidates`` for a day)
  and the second one links them; an alarm arriving later that is nearer takes the media over,
  so the outcome does not depend on the order of arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from media.domain.model import MediaRecord, Source
from trackstream.alarm.v1 import alarm_pb2

DEFAULT_WINDOW = timedelta(seconds=30)
#: how long an alarm waits for its media (a dashcam offline for a while uploads late)
CANDIDATE_TTL = timedelta(days=1)

#: JT/T 808-2013 0x0800/0x0801 event item codes -> the alarm types they are the trigger of
JT808_EVENT_ALARMS: dict[str, frozenset[int]] = {
    "2": frozenset({alarm_pb2.ALARM_TYPE_SOS}),
    "3": frozenset({alarm_pb2.ALARM_TYPE_COLLISION}),
    "4": frozenset({alarm_pb2.ALARM_TYPE_DOOR}),
    "5": frozenset({alarm_pb2.ALARM_TYPE_DOOR}),
    "6": frozenset({alarm_pb2.ALARM_TYPE_DOOR}),
}


@dataclass(frozen=True, slots=True)
class AlarmCandidate:
    """An alarm as media remembers it, waiting for media to link."""

    alarm_id: str
    device_id: str
    alarm_time: datetime
    alarm_type: int
    origin: int


def candidate_of(alarm: alarm_pb2.AlarmRaised, fallback_time: datetime) -> AlarmCandidate:
    when = (
        alarm.alarm_time.ToDatetime(tzinfo=UTC) if alarm.HasField("alarm_time") else fallback_time
    )
    return AlarmCandidate(
        alarm_id=alarm.alarm_id,
        device_id=alarm.device_id,
        alarm_time=when,
        alarm_type=int(alarm.type),
        origin=int(alarm.origin),
    )


def kind_matches(record: MediaRecord, alarm: AlarmCandidate) -> bool:
    if record.command_id:
        return False  # asked for by someone, not triggered by an alarm
    if record.source is Source.JT808:
        return alarm.alarm_type in JT808_EVENT_ALARMS.get(record.event_code, frozenset())
    if record.source is Source.JIMI_HTTP:
        return bool(record.event_code) and alarm.origin == alarm_pb2.ALARM_ORIGIN_DEVICE
    return False


def links(record: MediaRecord, alarm: AlarmCandidate, window: timedelta) -> bool:
    return (
        record.device_id == alarm.device_id
        and abs(record.captured_time - alarm.alarm_time) <= window
        and kind_matches(record, alarm)
    )


def may_link(record: MediaRecord) -> bool:
    """Whether the record could link to an alarm at all (saves lookups for timer pictures and
    captures)."""
    if record.command_id:
        return False
    if record.source is Source.JT808:
        return record.event_code in JT808_EVENT_ALARMS
    return record.source is Source.JIMI_HTTP and bool(record.event_code)


def best_alarm(
    record: MediaRecord, alarms: list[AlarmCandidate], window: timedelta
) -> AlarmCandidate | None:
    """The nearest alarm the record links to (ties: the smaller alarm id), or None."""
    matching = [a for a in alarms if links(record, a, window)]
    if not matching:
        return None
    return min(matching, key=lambda a: (abs(record.captured_time - a.alarm_time), a.alarm_id))
