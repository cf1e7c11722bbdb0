"""The media catalogue in Cassandra (deploy/cassandra/migrations/0006_media.cql, and
0008_media_alarm_links.cql for the alarms waiting for their media)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from media.domain.linking import CANDIDATE_TTL, AlarmCandidate
from media.domain.model import MediaKind, MediaRecord, Source
from trackstream_cassandra import CassandraStore

_COLUMNS = (
    "media_id, device_id, captured_time, media_type, content_type, size_bytes, sha256, bucket, "
    "object_key, alarm_id, command_id, source, event_code, channel, account_id"
)
_MARKS = ", ".join("?" * 15)


def _record(row: Any) -> MediaRecord:
    return MediaRecord(
        media_id=row.media_id,
        device_id=row.device_id,
        captured_time=row.captured_time.replace(tzinfo=UTC),
        media_type=MediaKind(row.media_type or 0),
        content_type=row.content_type or "",
        size_bytes=row.size_bytes or 0,
        sha256=row.sha256 or "",
        bucket=row.bucket,
        object_key=row.object_key,
        source=Source(row.source or 0),
        alarm_id=row.alarm_id or "",
        command_id=row.command_id or "",
        event_code=row.event_code or "",
        channel=row.channel or 0,
        account_id=row.account_id or "",
    )


def _values(r: MediaRecord) -> list[Any]:
    return [
        r.media_id,
        r.device_id,
        r.captured_time,
        int(r.media_type),
        r.content_type,
        r.size_bytes,
        r.sha256,
        r.bucket,
        r.object_key,
        r.alarm_id,
        r.command_id,
        int(r.source),
        r.event_code,
        r.channel,
        r.account_id,
    ]


def _token(captured: datetime, media_id: str) -> str:
    raw = f"{int(captured.timestamp() * 1000)}|{media_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _after(token: str) -> tuple[datetime, str]:
    try:
        ms, media_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC), media_id
    except (ValueError, UnicodeDecodeError):
        raise ValueError("bad page token") from None


class CassandraCatalogue:
    def __init__(self, store: CassandraStore) -> None:
        self.store = store

    async def add(self, record: MediaRecord, expires_day: date | None) -> None:
        """The catalogue rows and the expiry entry in one logged batch: all or none, so a row
        never lacks its expiry entry (the sweep would never delete its object), in one round
        trip."""
        writes: list[tuple[str, Sequence[Any]]] = [
            (
                f"INSERT INTO media_by_id ({_COLUMNS}, expires_day) VALUES ({_MARKS}, ?)",
                [*_values(record), expires_day],
            ),
            (f"INSERT INTO media_by_device ({_COLUMNS}) VALUES ({_MARKS})", _values(record)),
        ]
        if expires_day is not None:
            writes.append(
                (
                    "INSERT INTO media_expiry_by_day (expires_day, media_id, device_id, bucket, "
                    "object_key) VALUES (?, ?, ?, ?, ?)",
                    [
                        expires_day,
                        record.media_id,
                        record.device_id,
                        record.bucket,
                        record.object_key,
                    ],
                )
            )
        if record.alarm_id:
            writes.append(
                (
                    "INSERT INTO media_by_alarm (alarm_id, captured_time, media_id, device_id) "
                    "VALUES (?, ?, ?, ?)",
                    [record.alarm_id, record.captured_time, record.media_id, record.device_id],
                )
            )
        await self.store.execute_atomically(writes)

    async def get(self, media_id: str) -> MediaRecord | None:
        rows = await self.store.execute(
            f"SELECT {_COLUMNS} FROM media_by_id WHERE media_id = ?", [media_id]
        )
        return _record(rows[0]) if rows else None

    async def list_by_device(
        self, device_id: str, start: datetime, end: datetime, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]:
        if after:
            last_time, last_id = _after(after)
            rows = await self.store.execute(
                f"SELECT {_COLUMNS} FROM media_by_device WHERE device_id = ? "
                "AND (captured_time, media_id) < (?, ?) AND captured_time >= ? LIMIT ?",
                [device_id, last_time, last_id, start, limit + 1],
            )
        else:
            rows = await self.store.execute(
                f"SELECT {_COLUMNS} FROM media_by_device WHERE device_id = ? "
                "AND captured_time >= ? AND captured_time < ? LIMIT ?",
                [device_id, start, end, limit + 1],
            )
        records = [_record(r) for r in rows]
        return self._page(records, limit)

    async def list_by_alarm(
        self, alarm_id: str, limit: int, after: str | None
    ) -> tuple[list[MediaRecord], str | None]:
        if after:
            last_time, last_id = _after(after)
            rows = await self.store.execute(
                "SELECT media_id FROM media_by_alarm WHERE alarm_id = ? "
                "AND (captured_time, media_id) < (?, ?) LIMIT ?",
                [alarm_id, last_time, last_id, limit + 1],
            )
        else:
            rows = await self.store.execute(
                "SELECT media_id FROM media_by_alarm WHERE alarm_id = ? LIMIT ?",
                [alarm_id, limit + 1],
            )
        records = [r for r in [await self.get(row.media_id) for row in rows] if r is not None]
        return self._page(records, limit)

    @staticmethod
    def _page(records: list[MediaRecord], limit: int) -> tuple[list[MediaRecord], str | None]:
        if len(records) <= limit:
            return records, None
        page = records[:limit]
        return page, _token(page[-1].captured_time, page[-1].media_id)

    async def remove(self, record: MediaRecord) -> None:
        await self.store.execute(
            "DELETE FROM media_by_device WHERE device_id = ? AND captured_time = ? "
            "AND media_id = ?",
            [record.device_id, record.captured_time, record.media_id],
        )
        if record.alarm_id:
            await self.store.execute(
                "DELETE FROM media_by_alarm WHERE alarm_id = ? AND captured_time = ? "
                "AND media_id = ?",
                [record.alarm_id, record.captured_time, record.media_id],
            )
        await self.store.execute("DELETE FROM media_by_id WHERE media_id = ?", [record.media_id])

    async def all_of_device(self, device_id: str) -> list[MediaRecord]:
        rows = await self.store.execute(
            f"SELECT {_COLUMNS} FROM media_by_device WHERE device_id = ?", [device_id]
        )
        return [_record(r) for r in rows]

    async def expiring(self, day: date) -> list[tuple[str, str]]:
        rows = await self.store.execute(
            "SELECT media_id, device_id FROM media_expiry_by_day WHERE expires_day = ?", [day]
        )
        return [(r.media_id, r.device_id) for r in rows]

    async def forget_expiry_day(self, day: date) -> None:
        await self.store.execute("DELETE FROM media_expiry_by_day WHERE expires_day = ?", [day])

    async def remember_capture(self, device_id: str, device_media_id: int, command_id: str) -> None:
        await self.store.execute(
            "INSERT INTO media_capture_requests (device_id, device_media_id, command_id) "
            "VALUES (?, ?, ?)",
            [device_id, device_media_id, command_id],
        )

    async def capture_of(self, device_id: str, device_media_id: int) -> str | None:
        rows = await self.store.execute(
            "SELECT command_id FROM media_capture_requests WHERE device_id = ? "
            "AND device_media_id = ?",
            [device_id, device_media_id],
        )
        return rows[0].command_id if rows else None

    # -- alarm links (media.domain.linking) --------------------------------------------------

    async def remember_alarm(self, alarm: AlarmCandidate, now: datetime) -> None:
        """Kept until ``CANDIDATE_TTL`` after the alarm time."""
        ttl = int((alarm.alarm_time + CANDIDATE_TTL - now).total_seconds())
        if ttl <= 0:
            return
        await self.store.execute(
            "INSERT INTO media_alarm_candidates (device_id, alarm_time, alarm_id, alarm_type, "
            "origin) VALUES (?, ?, ?, ?, ?) USING TTL ?",
            [
                alarm.device_id,
                alarm.alarm_time,
                alarm.alarm_id,
                alarm.alarm_type,
                alarm.origin,
                ttl,
            ],
        )

    async def alarms_near(
        self, device_id: str, start: datetime, end: datetime
    ) -> list[AlarmCandidate]:
        rows = await self.store.execute(
            "SELECT device_id, alarm_time, alarm_id, alarm_type, origin FROM "
            "media_alarm_candidates WHERE device_id = ? AND alarm_time >= ? AND alarm_time <= ?",
            [device_id, start, end],
        )
        return [
            AlarmCandidate(
                alarm_id=r.alarm_id,
                device_id=r.device_id,
                alarm_time=r.alarm_time.replace(tzinfo=UTC),
                alarm_type=r.alarm_type,
                origin=r.origin,
            )
            for r in rows
        ]

    async def link_alarm(self, record: MediaRecord, alarm_id: str) -> None:
        """Set the alarm of a catalogued record (both rows) and list it under the alarm (and no
        more under the alarm it had)."""
        if record.alarm_id and record.alarm_id != alarm_id:
            await self.store.execute(
                "DELETE FROM media_by_alarm WHERE alarm_id = ? AND captured_time = ? "
                "AND media_id = ?",
                [record.alarm_id, record.captured_time, record.media_id],
            )
        await asyncio.gather(
            self.store.execute(
                "UPDATE media_by_id SET alarm_id = ? WHERE media_id = ?",
                [alarm_id, record.media_id],
            ),
            self.store.execute(
                "UPDATE media_by_device SET alarm_id = ? WHERE device_id = ? "
                "AND captured_time = ? AND media_id = ?",
                [alarm_id, record.device_id, record.captured_time, record.media_id],
            ),
            self.store.execute(
                "INSERT INTO media_by_alarm (alarm_id, captured_time, media_id, device_id) "
                "VALUES (?, ?, ?, ?)",
                [alarm_id, record.captured_time, record.media_id, record.device_id],
            ),
        )

    async def forget_alarms(self, device_id: str) -> None:
        await self.store.execute(
            "DELETE FROM media_alarm_candidates WHERE device_id = ?", [device_id]
        )
