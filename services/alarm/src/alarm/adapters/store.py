"""Alarm history in Cassandra (deploy/cassandra/migrations/0005_alarm.cql).

* ``alarms_by_device_day``: partition (device, UTC day), clustered by (alarm time, alarm id);
  the row holds the ``AlarmRaised`` bytes. Alarm ids are stable, so writing an alarm again is
  an overwrite of its own row; the ack/resolve columns are not in the insert, so a re-consumed
  alarm never undoes an acknowledgement.
* ``alarm_days_by_device``: the days a device has alarms (erasure enumerates them).
* ``alarm_by_id``: where an alarm's row is, for acknowledge and resolve.

Retention (docs/architecture.md, "Retention per account"): every row expires (Cassandra TTL)
when its alarm is older than the device's account retention (``retention_days``; 0: kept until
erased): the alarm rows at alarm time + days, a day's index row at the end of that day + days.
An alarm already older than that is not written. :meth:`AlarmStore.delete_older` removes the
whole days older than a (shortened) retention, driven by the day index, never a scan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trackstream.alarm.v1 import alarm_pb2
from trackstream_cassandra import CassandraStore, as_date
from trackstream_events.retention import DAY_S, MAX_DAYS

ALARMS, DAYS, BY_ID = "alarms_by_device_day", "alarm_days_by_device", "alarm_by_id"
#: the longest TTL Cassandra takes
_MAX_TTL_S = MAX_DAYS * DAY_S


def keep_forever(_device_id: str) -> int:
    return 0


def ttl_until(expires: datetime, now: datetime) -> int:
    """Seconds from ``now`` to ``expires``, within Cassandra's TTL bound (at most 0: due)."""
    return min(int((expires - now).total_seconds()), _MAX_TTL_S)


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
    def __init__(
        self,
        store: CassandraStore,
        *,
        concurrency: int = 64,
        retention_days: Callable[[str], int] = keep_forever,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._concurrency = concurrency
        #: days a device's alarms are kept (its account's retention; 0: until erased)
        self._retention_days = retention_days
        self._clock = clock

    def _ttl(self, device_id: str, since: datetime, now: datetime) -> int | None:
        """The TTL of a row that expires ``retention`` after ``since`` (0: no expiry; None:
        already past its retention)."""
        days = self._retention_days(device_id)
        if days <= 0:
            return 0
        ttl = ttl_until(since + timedelta(days=days), now)
        return ttl if ttl > 0 else None

    async def write(self, alarms: Sequence[alarm_pb2.AlarmRaised]) -> None:
        """Store every alarm (idempotent), each row with its retention's TTL; returns when
        all are written."""
        now = self._clock()
        rows, ids = [], []
        days: dict[tuple[str, date], int] = {}
        for alarm in alarms:
            when = alarm.alarm_time.ToDatetime(tzinfo=UTC)
            ttl = self._ttl(alarm.device_id, when, now)
            if ttl is None:
                continue  # older than its account keeps alarms: the sweep would delete it
            day = _day(when)
            rows.append(
                (
                    alarm.device_id,
                    day,
                    when,
                    alarm.alarm_id,
                    alarm.type,
                    alarm.SerializeToString(),
                    ttl,
                )
            )
            day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            days[(alarm.device_id, day)] = self._ttl(alarm.device_id, day_end, now) or 0
            ids.append((alarm.alarm_id, alarm.device_id, day, when, ttl))
        run = self._store.execute_concurrently
        await asyncio.gather(
            run(
                f"INSERT INTO {ALARMS} (device_id, day, alarm_time, alarm_id, "
                "alarm_type, alarm) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?",
                rows,
                concurrency=self._concurrency,
            ),
            run(
                f"INSERT INTO {DAYS} (device_id, day) VALUES (?, ?) USING TTL ?",
                [(device, day, ttl) for (device, day), ttl in sorted(days.items())],
                concurrency=self._concurrency,
            ),
            run(
                f"INSERT INTO {BY_ID} (alarm_id, device_id, day, alarm_time) "
                "VALUES (?, ?, ?, ?) USING TTL ?",
                ids,
                concurrency=self._concurrency,
            ),
        )

    async def delete_older(self, device_id: str, older_than: datetime) -> dict[str, int]:
        """Every whole UTC day of the device's alarms older than ``older_than`` (a retention
        that was shortened): the ids, the day partitions, then the index rows, so a round that
        fails half-way leaves the index pointing at what is left. Returns what went per table
        (partitions of alarms_by_device_day, rows of the others)."""
        run = self._store.execute
        indexed = await run(
            f"SELECT day FROM {DAYS} WHERE device_id = ? AND day < ?",
            (device_id, older_than.astimezone(UTC).date()),
        )
        days = [as_date(r.day) for r in indexed]
        ids = 0
        for day in days:
            rows = await run(
                f"SELECT alarm_id FROM {ALARMS} WHERE device_id = ? AND day = ?", (device_id, day)
            )
            await self._store.execute_concurrently(
                f"DELETE FROM {BY_ID} WHERE alarm_id = ?",
                [(r.alarm_id,) for r in rows],
                concurrency=self._concurrency,
            )
            ids += len(rows)
            await run(f"DELETE FROM {ALARMS} WHERE device_id = ? AND day = ?", (device_id, day))
            await run(f"DELETE FROM {DAYS} WHERE device_id = ? AND day = ?", (device_id, day))
        return {ALARMS: len(days), DAYS: len(days), BY_ID: ids}

    async def delete_device(self, device_id: str) -> dict[str, int]:
        """Every alarm of the device (an erasure): :meth:`delete_older` than the end of time, in
        the same order, then the day index's partition itself."""
        deleted = await self.delete_older(device_id, datetime.max.replace(tzinfo=UTC))
        await self._store.execute(f"DELETE FROM {DAYS} WHERE device_id = ?", (device_id,))
        return deleted

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
        # the new cells expire with the row (an update without a TTL would outlive it)
        ttl = self._ttl(device_id, stored.time, self._clock())
        if ttl is None:
            ttl = 1  # past its retention: the row is swept, these cells go at once
        await self._store.execute(
            f"UPDATE {ALARMS} USING TTL ? SET {column}_time = ?, {column}_by = ?, note = ? "
            "WHERE device_id = ? AND day = ? AND alarm_time = ? AND alarm_id = ?",
            (
                ttl,
                at,
                user_id,
                note or stored.note,
                device_id,
                _day(stored.time),
                stored.time,
                alarm_id,
            ),
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
