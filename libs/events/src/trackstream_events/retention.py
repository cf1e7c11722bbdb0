"""Retention per account (issue 8): how many days positions, alarms and media are kept.

Identity stores each account's own setting and carries it on ``AccountChanged`` (compacted
``identity.accounts.v1``). The rule, the same for every reader (history, alarm, media, the
gateway):

* a kind the account sets (days > 0) is the account's;
* a kind it leaves at 0 is inherited from the nearest ancestor that sets it (parent first, the
  platform root last), so a distributor's setting covers the enterprises below it until one sets
  its own, and a sub-account's own value wins over its parents' (an admin above can change it);
* nothing set up the tree: the platform's default, a setting of each service (0: kept until
  deleted or erased).

Days are bounded by :data:`MAX_DAYS`, the longest TTL Cassandra takes (20 years); identity may
set a lower platform maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from trackstream.identity.v1.accounts_pb2 import AccountRetention

DAY_S = 86_400
#: Cassandra refuses a TTL above 20 years (630,720,000 s)
MAX_DAYS = 7_300


class DataKind(StrEnum):
    """What a retention applies to: the field ``<kind>_days`` of ``AccountRetention``."""

    POSITIONS = "positions"
    ALARMS = "alarms"
    MEDIA = "media"


class HasRetention(Protocol):
    """An ``AccountChanged`` or an identity ``Account``: what the rule reads of an account."""

    @property
    def ancestor_account_ids(self) -> Sequence[str]: ...

    @property
    def retention(self) -> AccountRetention: ...


def own_days(retention: AccountRetention, kind: DataKind) -> int:
    """The days the account sets itself for ``kind`` (0: not set)."""
    return int(getattr(retention, f"{kind.value}_days"))


@dataclass(frozen=True, slots=True)
class Resolved:
    """An account's retention of one kind: ``days`` 0 means the platform's default applies."""

    days: int
    #: the account whose setting applies (itself or an ancestor); "" for the platform default
    set_by: str


def resolve(
    account_id: str, kind: DataKind, lookup: Callable[[str], HasRetention | None]
) -> Resolved:
    """The nearest setting of ``kind``: the account's own, else its ancestors' (parent first)."""
    account = lookup(account_id)
    if account is None:
        return Resolved(0, "")
    days = own_days(account.retention, kind)
    if days > 0:
        return Resolved(days, account_id)
    for ancestor_id in reversed(account.ancestor_account_ids):
        ancestor = lookup(ancestor_id)
        if ancestor is not None and (days := own_days(ancestor.retention, kind)) > 0:
            return Resolved(days, ancestor_id)
    return Resolved(0, "")


def check_days(days: int, *, maximum: int = 0, field: str = "days") -> int:
    """``days`` when it is a valid setting (0: not set), else ValueError with the reason.
    ``maximum`` is the platform's (0: only :data:`MAX_DAYS`)."""
    limit = min(maximum, MAX_DAYS) if maximum > 0 else MAX_DAYS
    if days < 0:
        raise ValueError(f"{field} is a number of days, 0 or more (0: the platform's default)")
    if days > limit:
        bound = "the platform's maximum" if limit < MAX_DAYS else "Cassandra's longest TTL"
        raise ValueError(f"{field} is at most {limit} ({bound})")
    return days


@dataclass(frozen=True)
class AccountRetentionPolicy:
    """One kind's retention of every account, read through ``lookup`` (a compacted table of
    identity.accounts.v1), with the platform's ``default_days`` (0: kept until erased)."""

    kind: DataKind
    default_days: int
    lookup: Callable[[str], HasRetention | None]

    def __post_init__(self) -> None:
        check_days(self.default_days, field=f"the default {self.kind.value} retention")

    def days(self, account_id: str | None) -> int:
        """Days this account's data of our kind is kept (0: until deleted or erased)."""
        if account_id:
            resolved = resolve(account_id, self.kind, self.lookup)
            if resolved.days > 0:
                return resolved.days
        return self.default_days

    def ttl_seconds(self, account_id: str | None) -> int:
        """The Cassandra TTL for a row written now (0: no expiry)."""
        return self.days(account_id) * DAY_S
