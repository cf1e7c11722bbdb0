"""Retention per account: how long a device's media are kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    default_days: int = 0
    account_days: Mapping[str, int] = field(default_factory=dict)

    def days(self, account_id: str | None) -> int:
        if account_id and account_id in self.account_days:
            return self.account_days[account_id]
        return self.default_days

    def expires_day(self, account_id: str | None, captured: datetime) -> date | None:
        """The UTC day on which the sweeper deletes the object (None: kept)."""
        days = self.days(account_id)
        if days <= 0:
            return None
        return (captured + timedelta(days=days)).date()
