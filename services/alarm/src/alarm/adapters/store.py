"""Alarm history in Cassandra (deploy/cassandra/migrations/0005_alarm.cql).

* ``alarms_by_device_day``: partition (device, UTC day), clustered by (alarm time, alarm id);
  the row holds the ``AlarmRaised`` bytes. Alarm ids are stable, so writing an alarm again is
  an overwrite of its own row; the ack/resolve columns are not in the insert, so a re-consumed
  alarm never undoes an acknowledgement.
* ``alarm_days_by_device``: the days a device has alarms (erasure enumerates them).
* ``alarm_by_id``: where an alarm's row is, for acknowledge and resolve.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trackstream.alarm.v1 import alarm_pb2
from trackstream_cassandra import CassandraStore, as_date


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    alarm: alarm_pb2.AlarmRaised
    time: datetime
    acknowledged_time: datetime | None = None
    acknowledged_by: str = ""
    resolved_time: datetime | None = None
    resolved_by: str = ""
    note: str = ""


class AlarmNotFound(LookupError):
    pass


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _day(when: datetime) -> date:
    return when.astimezone(UTC).date()


_SELECT = (
    "SELECT alarm_time, alarm_id, alarm_type, alarm, acknowledged_time, acknowledged_by, "
    "resolved_time, resolved_by, note FROM alarms_by_device_day"
)


class AlarmStore:
    def __init__(self, store: CassandraStore, *, concurrency: int = 64) -> None:
        self._store = store
        self._concurrency = concurrency

    async def write(self, alarms: Sequence[alarm_pb2.AlarmRaised]) -> None:
        """Store every alarm (idempotent); returns when all are written."""
        rows, days, ids = [], set(), []
        for alarm in alarms:
            when = alarm.alarm_time.ToDatetime(tzinfo=UTC)
            day = _day(when)
            rows.append(
                (alarm.device_id, day, when, alarm.alarm_id, alarm.type, alarm.SerializeToString())
            )
            days.add((alarm.device_id, day))
            ids.append((alarm.alarm_id, alarm.device_id, day, when))
        run = self._store.execute_concurrently
        await asyncio.gather(
            run(
                "INSERT INTO alarms_by_device_day (device_id, day, alarm_time, alarm_id, "
                "alarm_type, alarm) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
                concurrency=self._concurrency,
            ),
            run(
                "INSERT INTO alarm_days_by_device (device_id, day) VALUES (?, ?)",
                sorted(days),
                concurrency=self._concurrency,
            ),
            run(
                "INSERT INTO alarm_by_id (alarm_id, device_id, day, alarm_time) "
                "VALUES (?, ?, ?, ?)",
                ids,
                concurrency=self._concurrency,
            ),
        )

    async def list(
        self,
        device_id: str,
        start: datetime,
        end: datetime,
        *,
        types: frozenset[int],
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[StoredAlarm]:
        """Alarms of ``device_id`` in [start, end), oldest first, after the ``after`` cursor."""
        found: list[StoredAlarm] = []
        first_day = _day(after[0] if after else start)
        last_day = _day(end - timedelta(microseconds=1))
        # only the days the index lists: a range without alarms costs one read, not one a day
        indexed = await self._store.execute(
            "SELECT day FROM alarm_days_by_device WHERE device_id = ? AND day >= ? AND day <= ?",
            (device_id, first_day, last_day),
        )
        for day in sorted(as_date(r.day) for r in indexed):
            if len(found) >= limit:
                break
            if after is not None and _day(after[0]) == day:
                rows = await self._store.execute(
                    f"{_SELECT} WHERE device_id = ? AND day = ? AND (alarm_time, alarm_id) > (?, ?)"
                    " AND alarm_time < ?",
                    (device_id, day, after[0], after[1], end),
                )
            else:
                rows = await self._store.execute(
                    f"{_SELECT} WHERE device_id = ? AND day = ? AND alarm_time >= ? "
                    "AND alarm_time < ?",
                    (device_id, day, start, end),
                )
            for row in rows:
                if types and row.alarm_type not in types:
                    continue
                found.append(_stored(row))
                if len(found) == limit:
                    break
        return found

    async def get(self, device_id: str, alarm_id: str) -> StoredAlarm:
        where = await self._store.execute(
            "SELECT device_id, day, alarm_time FROM alarm_by_id WHERE alarm_id = ?", (alarm_id,)
        )
        if not where or where[0].device_id != device_id:
            raise AlarmNotFound(alarm_id)
        row = where[0]
        rows = await self._store.execute(
            f"{_SELECT} WHERE device_id = ? AND day = ? AND alarm_time = ? AND alarm_id = ?",
            (device_id, row.day, row.alarm_time, alarm_id),
        )
        if not rows:
            raise AlarmNotFound(alarm_id)
        return _stored(rows[0])

    async def mark(
        self, device_id: str, alarm_id: str, *, action: str, user_id: str, note: str, at: datetime
    ) -> StoredAlarm:
        """Acknowledge or resolve (``action``): an update of the alarm's row."""
        stored = await self.get(device_id, alarm_id)
        column = {"acknowledge": "acknowledged", "resolve": "resolved"}[action]
        await self._store.execute(
            f"UPDATE alarms_by_device_day SET {column}_time = ?, {column}_by = ?, note = ? "
            "WHERE device_id = ? AND day = ? AND alarm_time = ? AND alarm_id = ?",
            (at, user_id, note or stored.note, device_id, _day(stored.time), stored.time, alarm_id),
        )
        return await self.get(device_id, alarm_id)


def _stored(row: Any) -> StoredAlarm:
    return StoredAlarm(
        alarm=alarm_pb2.AlarmRaised.FromString(row.alarm),
        time=_utc(row.alarm_time) or datetime.min.replace(tzinfo=UTC),
        acknowledged_time=_utc(row.acknowledged_time),
        acknowledged_by=row.acknowledged_by or "",
        resolved_time=_utc(row.resolved_time),
        resolved_by=row.resolved_by or "",
        note=row.note or "",
    )
