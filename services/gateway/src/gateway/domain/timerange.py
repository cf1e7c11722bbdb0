"""Time ranges of history queries: ordered, bounded, time-zone aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MAX_RANGE = timedelta(days=31)


class BadTimeRange(ValueError):
    pass


def checked_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Both aware (naive means UTC), start before end, at most 31 days apart."""
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    if start.year < 1971 or end.year > 9998:
        raise BadTimeRange("times must lie between 1971 and 9998")
    if end <= start:
        raise BadTimeRange("end must be after start")
    if end - start > MAX_RANGE:
        raise BadTimeRange("a time range spans at most 31 days")
    return start, end
