"""Positions in Cassandra: written idempotently and concurrently, read by bounded slices.

* ``positions_by_device_day``: partition (device, UTC day), clustered by (fix time, serial): a
  position retransmitted or re-consumed overwrites its own row; a late one lands in its day.
* ``position_days_by_device``: which days a device has, so reads and erasure need no scans.
* ``last_position_by_device``: written ``USING TIMESTAMP`` = the fix time, so the newest fix
  wins whatever order positions arrive in.
* ``position_addresses_by_device_day``: the address of a position (from geocoding), same key as
  the position, joined on read: an address never creates a position, whichever comes first.

Retention (docs/architecture.md, "Retention per account"): every row carries its account's
retention as a TTL from the write; :meth:`PositionStore.delete_older` removes the whole days
older than a shortened retention through the day index (erasure deletes every day the same way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from history.domain.model import PointAddress, TrackPoint
from trackstream_cassandra import CassandraStore, as_date

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
POSITIONS = "positions_by_device_day"
DAYS = "position_days_by_device"
LAST = "last_position_by_device"
ADDRESSES = "position_addresses_by_device_day"


async def delete_day_partitions(
    store: CassandraStore, device_id: str, days: Sequence[date], *, concurrency: int
) -> None:
    """The device's positions and addresses of ``days`` (partition deletes; the day index is
    the caller's, deleted after these so a crash half-way leaves it pointing at what is left)."""
    partitions: Sequence[tuple[Any, ...]] = [(device_id, day) for day in days]
    for table in (POSITIONS, ADDRESSES):
        await store.execute_concurrently(
            f"DELETE FROM {table} WHERE device_id = ? AND day = ?",
            partitions,
            concurrency=concurrency,
        )


_COLUMNS = (
    "fix_time, message_serial, latitude, longitude, altitude_m, speed_kmh, course_deg, valid, "
    "satellites, received_time, archived, ignition, odometer_m, flagged, address"
)


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class PositionStore:
    def __init__(self, store: CassandraStore, *, concurrency: int) -> None:
        self._store = store
        self._concurrency = concurrency
        # every row carries its device's retention as a TTL (0: no expiry)
        self._insert = (
            f"INSERT INTO positions_by_device_day (device_id, day, {_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
        )
        self._insert_day = (
            "INSERT INTO position_days_by_device (device_id, day) VALUES (?, ?) USING TTL ?"
        )
        self._insert_address = (
            "INSERT INTO position_addresses_by_device_day (device_id, day, fix_time, "
            "message_serial, address) VALUES (?, ?, ?, ?, ?) USING TTL ?"
        )
        self._insert_last = (
            "INSERT INTO last_position_by_device (device_id, fix_time, message_serial, latitude, "
            "longitude, altitude_m, speed_kmh, course_deg, valid, satellites, received_time, "
            "ignition, odometer_m) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "USING TIMESTAMP ? AND TTL ?"
        )

    async def write(
        self, points: Sequence[TrackPoint], ttl_seconds: Mapping[str, int] | None = None
    ) -> None:
        """Store every point (and its day, and the device's newest fix), concurrently; returns
        when all are written, raises if any failed (then nothing may be acknowledged).
        ``ttl_seconds`` gives each device's retention (absent: kept until erased)."""
        ttl = ttl_seconds or {}
        rows: list[tuple[Any, ...]] = []
        days: set[tuple[str, date]] = set()
        newest: dict[str, TrackPoint] = {}
        for p in points:
            day = p.fix_time.astimezone(UTC).date()
            rows.append((p.device_id, day, *self._values(p), ttl.get(p.device_id, 0)))
            days.add((p.device_id, day))
            if p.flagged is None and (
                p.device_id not in newest or newest[p.device_id].fix_time < p.fix_time
            ):
                newest[p.device_id] = p
        last = []
        for p in newest.values():
            v = self._values(p)
            last.append(
                (p.device_id, *v[:10], v[11], v[12], _micros(p.fix_time), ttl.get(p.device_id, 0))
            )
        run = self._store.execute_concurrently
        await asyncio.gather(
            run(self._insert, rows, concurrency=self._concurrency),
            run(
                self._insert_day,
                [(d, day, ttl.get(d, 0)) for d, day in sorted(days)],
                concurrency=self._concurrency,
            ),
            run(self._insert_last, last, concurrency=self._concurrency),
        )

    async def write_addresses(
        self, addresses: Sequence[PointAddress], ttl_seconds: Mapping[str, int] | None = None
    ) -> None:
        """Store the address of each position (by the position's key), concurrently."""
        ttl = ttl_seconds or {}
        rows = [
            (
                a.device_id,
                a.fix_time.astimezone(UTC).date(),
                a.fix_time,
                a.message_serial,
                a.address,
                ttl.get(a.device_id, 0),
            )
            for a in addresses
        ]
        await self._store.execute_concurrently(
            self._insert_address, rows, concurrency=self._concurrency
        )

    async def _addresses(
        self, device_id: str, day: date, first: datetime, last: datetime
    ) -> dict[tuple[datetime, int], str]:
        rows = await self._store.execute(
            "SELECT fix_time, message_serial, address FROM position_addresses_by_device_day "
            "WHERE device_id = ? AND day = ? AND fix_time >= ? AND fix_time <= ?",
            (device_id, day, first, last),
        )
        return {(_utc(r.fix_time) or _EPOCH, r.message_serial): r.address for r in rows}

    async def _with_addresses(self, day: date, points: list[TrackPoint]) -> list[TrackPoint]:
        if not points:
            return points
        found = await self._addresses(
            points[0].device_id, day, points[0].fix_time, points[-1].fix_time
        )
        return [
            replace(p, address=found[key])
            if (key := (p.fix_time, p.message_serial)) in found
            else p
            for p in points
        ]

    @staticmethod
    def _values(p: TrackPoint) -> tuple[Any, ...]:
        return (
            p.fix_time,
            p.message_serial,
            p.latitude,
            p.longitude,
            p.altitude_m,
            p.speed_kmh,
            p.course_deg,
            p.valid,
            p.satellites,
            p.received_time,
            p.archived,
            p.ignition,
            p.odometer_m,
            p.flagged,
            p.address,
        )

    async def days(self, device_id: str, first: date, last: date) -> list[date]:
        rows = await self._store.execute(
            "SELECT day FROM position_days_by_device WHERE device_id = ? AND day >= ? AND day <= ?",
            (device_id, first, last),
        )
        return sorted(_as_date(r.day) for r in rows)

    async def track(
        self,
        device_id: str,
        start: datetime,
        end: datetime,
        *,
        limit: int,
        after: tuple[datetime, int] | None = None,
    ) -> list[TrackPoint]:
        """At most ``limit`` points in [start, end), oldest first, after ``after`` (the fix time
        and serial of the last point of the previous page)."""
        points: list[TrackPoint] = []
        first = (after[0] if after else start).astimezone(UTC).date()
        for day in await self.days(
            device_id, first, (end - timedelta(microseconds=1)).astimezone(UTC).date()
        ):
            if after is not None and day == after[0].astimezone(UTC).date():
                rows = await self._store.execute(
                    f"SELECT {_COLUMNS} FROM positions_by_device_day "
                    "WHERE device_id = ? AND day = ? "
                    "AND (fix_time, message_serial) > (?, ?) AND (fix_time) < (?) LIMIT ?",
                    (device_id, day, after[0], after[1], end, limit - len(points)),
                )
            else:
                rows = await self._store.execute(
                    f"SELECT {_COLUMNS} FROM positions_by_device_day "
                    "WHERE device_id = ? AND day = ? "
                    "AND fix_time >= ? AND fix_time < ? LIMIT ?",
                    (device_id, day, start, end, limit - len(points)),
                )
            points += await self._with_addresses(day, [_point(device_id, r) for r in rows])
            if len(points) >= limit:
                break
        return points

    async def last_positions(self, device_ids: Sequence[str]) -> dict[str, TrackPoint]:
        columns = _COLUMNS.replace(", archived", "").replace(", flagged, address", ", address")
        found = await asyncio.gather(
            *(
                self._store.execute(
                    f"SELECT {columns} FROM last_position_by_device WHERE device_id = ?", (d,)
                )
                for d in device_ids
            )
        )
        last = {d: _point(d, rows[0]) for d, rows in zip(device_ids, found, strict=True) if rows}
        addressed = await asyncio.gather(
            *(self._with_addresses(p.fix_time.astimezone(UTC).date(), [p]) for p in last.values())
        )
        return {d: points[0] for d, points in zip(last, addressed, strict=True)}

    async def delete_older(self, device_id: str, older_than: datetime) -> dict[str, int]:
        """Every whole UTC day of the device older than ``older_than`` (a retention that was
        shortened): its positions and addresses, then its index rows; and the newest fix when
        it is older too (a delete timestamped ``older_than`` shadows only a fix written with
        an older fix time). Returns the partitions and index rows deleted."""
        cutoff = older_than.astimezone(UTC)
        rows = await self._store.execute(
            f"SELECT day FROM {DAYS} WHERE device_id = ? AND day < ?", (device_id, cutoff.date())
        )
        days = [as_date(r.day) for r in rows]
        if not days:
            return {}
        await delete_day_partitions(self._store, device_id, days, concurrency=self._concurrency)
        await self._store.execute(
            f"DELETE FROM {LAST} USING TIMESTAMP ? WHERE device_id = ?",
            (_micros(cutoff), device_id),
        )
        await self._store.execute_concurrently(
            f"DELETE FROM {DAYS} WHERE device_id = ? AND day = ?",
            [(device_id, day) for day in days],
            concurrency=self._concurrency,
        )
        return {POSITIONS: len(days), ADDRESSES: len(days), DAYS: len(days)}

    async def ping(self) -> bool:
        await self._store.execute("SELECT release_version FROM system.local")
        return True


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else value.date()  # cassandra.util.Date


def _point(device_id: str, row: Any) -> TrackPoint:
    return TrackPoint(
        device_id=device_id,
        fix_time=_utc(row.fix_time) or _EPOCH,
        latitude=row.latitude,
        longitude=row.longitude,
        speed_kmh=row.speed_kmh or 0.0,
        course_deg=row.course_deg or 0.0,
        valid=bool(row.valid),
        altitude_m=row.altitude_m,
        satellites=row.satellites,
        ignition=row.ignition,
        odometer_m=row.odometer_m,
        address=getattr(row, "address", None),
        message_serial=row.message_serial or 0,
        archived=bool(getattr(row, "archived", False)),
        flagged=getattr(row, "flagged", None),
        received_time=_utc(row.received_time),
    )
