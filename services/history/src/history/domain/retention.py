"""How long a device's positions are kept: its account's retention, else the platform's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DAY_S = 86_400


@dataclass(frozen=True)
class RetentionPolicy:
    #: days positions are kept when the account sets nothing (0: until erased)
    default_days: int = 0
    #: days by account id
    by_account: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default_days < 0 or any(d < 0 for d in self.by_account.values()):
            raise ValueError("retention is a number of days, 0 or more")

    def ttl_seconds(self, account_id: str | None) -> int:
        """The Cassandra TTL for a row of this account (0: no expiry)."""
        days = (
            self.by_account.get(account_id, self.default_days) if account_id else self.default_days
        )
        return days * DAY_S
