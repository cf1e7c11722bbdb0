"""When a medium expires: its account's retention (trackstream_events.retention) after capture."""

from __future__ import annotations

from datetime import date, datetime, timedelta


def expires_day(days: int, captured: datetime) -> date | None:
    """The UTC day on which the sweeper deletes the object (None: ``days`` 0, kept)."""
    if days <= 0:
        return None
    return (captured + timedelta(days=days)).date()
