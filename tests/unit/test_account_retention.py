"""The retention rule every reader shares (trackstream_events.retention): own value, inherited
from the nearest ancestor that sets it, else the platform default; bounds."""

from __future__ import annotations

import pytest

from trackstream.identity.v1.accounts_pb2 import AccountChanged, AccountRetention
from trackstream_events.retention import (
    DAY_S,
    MAX_DAYS,
    AccountRetentionPolicy,
    DataKind,
    Resolved,
    check_days,
    resolve,
)


def _account(account_id: str, ancestors: list[str], **days: int) -> AccountChanged:
    return AccountChanged(
        account_id=account_id,
        parent_account_id=ancestors[-1] if ancestors else "",
        ancestor_account_ids=ancestors,
        retention=AccountRetention(**days),
    )


# platform -> distributor -> enterprise -> user
TREE = {
    "platform": _account("platform", []),
    "distributor": _account("distributor", ["platform"], positions_days=60, alarms_days=365),
    "enterprise": _account("enterprise", ["platform", "distributor"], positions_days=30),
    "user": _account("user", ["platform", "distributor", "enterprise"], media_days=7),
    "other": _account("other", ["platform"]),
}


def test_own_value_wins_then_the_nearest_ancestor_then_nobody() -> None:
    assert resolve("user", DataKind.MEDIA, TREE.get) == Resolved(7, "user")
    # the enterprise (parent) is nearer than the distributor
    assert resolve("user", DataKind.POSITIONS, TREE.get) == Resolved(30, "enterprise")
    assert resolve("user", DataKind.ALARMS, TREE.get) == Resolved(365, "distributor")
    assert resolve("enterprise", DataKind.MEDIA, TREE.get) == Resolved(0, "")
    assert resolve("other", DataKind.POSITIONS, TREE.get) == Resolved(0, "")
    assert resolve("unknown", DataKind.POSITIONS, TREE.get) == Resolved(0, "")


def test_a_parent_change_reaches_the_children_that_inherit_it() -> None:
    tree = dict(TREE)
    tree["enterprise"] = _account("enterprise", ["platform", "distributor"], positions_days=3)
    assert resolve("user", DataKind.POSITIONS, tree.get) == Resolved(3, "enterprise")
    tree["enterprise"] = _account("enterprise", ["platform", "distributor"])  # cleared
    assert resolve("user", DataKind.POSITIONS, tree.get) == Resolved(60, "distributor")


def test_the_policy_falls_back_to_the_platform_default() -> None:
    policy = AccountRetentionPolicy(DataKind.MEDIA, 90, TREE.get)
    assert policy.days("user") == 7
    assert policy.days("other") == 90
    assert policy.days(None) == 90
    assert policy.days("") == 90
    assert policy.ttl_seconds("user") == 7 * DAY_S
    keep = AccountRetentionPolicy(DataKind.MEDIA, 0, TREE.get)
    assert keep.ttl_seconds("other") == 0  # no expiry
    assert keep.days("user") == 7


def test_bounds() -> None:
    assert check_days(0) == 0
    assert check_days(MAX_DAYS) == MAX_DAYS
    with pytest.raises(ValueError, match="0 or more"):
        check_days(-1)
    with pytest.raises(ValueError, match=f"at most {MAX_DAYS}"):
        check_days(MAX_DAYS + 1)
    assert check_days(365, maximum=365) == 365
    with pytest.raises(ValueError, match="at most 365"):
        check_days(366, maximum=365)
    # a platform maximum above what Cassandra takes is Cassandra's
    with pytest.raises(ValueError, match=f"at most {MAX_DAYS}"):
        check_days(MAX_DAYS + 1, maximum=10 * MAX_DAYS)
    with pytest.raises(ValueError):
        AccountRetentionPolicy(DataKind.POSITIONS, -1, TREE.get)
