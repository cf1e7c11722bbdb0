"""The authorisation rules, exhaustively over the unit tree (see conftest)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gateway.domain import access
from gateway.domain.access import Forbidden, Need, NotVisible
from gateway.domain.model import DeviceEntry, Share
from services.gateway.tests.unit.conftest import NOW, caller, tree

ACCOUNTS = ["platform", "A", "A1", "A1u", "Aop", "Aview", "B"]
DEVICES = ["dA", "dA1", "dA1u", "dB", "dBx"]
OWNER = {"dA": "A", "dA1": "A1", "dA1u": "A1u", "dB": "B", "dBx": "B"}
ANCESTORS = {
    "platform": set(),
    "A": {"platform"},
    "A1": {"platform", "A"},
    "A1u": {"platform", "A", "A1"},
    "Aop": {"platform", "A"},
    "Aview": {"platform", "A"},
    "B": {"platform"},
}
ROLE = {
    "platform": "admin",
    "A": "admin",
    "A1": "admin",
    "A1u": "viewer",
    "Aop": "operator",
    "Aview": "viewer",
    "B": "admin",
}


def owns(who: str, device: str) -> bool:
    owner = OWNER[device]
    return owner == who or who in ANCESTORS[owner]


def expected_device(who: str, device: str, need: Need) -> str:
    """The rule written out independently of the implementation."""
    shared = who == "A1u" and device == "dB"  # dBx's share has expired
    if not owns(who, device) and not shared:
        return "404"
    if need is Need.READ:
        return "ok"
    if not owns(who, device):
        return "403"
    if need is Need.MANAGE:
        return "ok" if ROLE[who] == "admin" else "403"
    return "ok" if ROLE[who] in ("admin", "operator") else "403"


def outcome(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except NotVisible:
        return "404"
    except Forbidden:
        return "403"
    return "ok"


@pytest.mark.parametrize("need", list(Need))
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("who", ACCOUNTS)
def test_device_access_matrix(who: str, device: str, need: Need) -> None:
    d = tree()
    got = outcome(lambda: access.check_device(d, caller(who), device, need, NOW))
    assert got == expected_device(who, device, need)


@pytest.mark.parametrize("need", list(Need))
@pytest.mark.parametrize("target", ACCOUNTS)
@pytest.mark.parametrize("who", ACCOUNTS)
def test_account_access_matrix(who: str, target: str, need: Need) -> None:
    d = tree()
    visible = target == who or who in ANCESTORS[target]
    if not visible:
        expected = "404"
    elif need is Need.READ:
        expected = "ok"
    elif need is Need.MANAGE:
        expected = "ok" if ROLE[who] == "admin" else "403"
    else:
        expected = "ok" if ROLE[who] in ("admin", "operator") else "403"
    assert outcome(lambda: access.check_account(d, caller(who), target, need)) == expected


def test_visible_devices_follow_the_tree_and_live_shares() -> None:
    d = tree()
    assert access.visible_devices(d, "A", NOW) == ["dA", "dA1", "dA1u"]
    assert access.visible_devices(d, "A1", NOW) == ["dA1", "dA1u"]
    assert access.visible_devices(d, "A1u", NOW) == ["dA1u", "dB"]
    assert access.visible_devices(d, "B", NOW) == ["dB", "dBx"]
    assert access.visible_devices(d, "Aop", NOW) == []
    # the share to A1u ends: dB disappears for A1u at that instant
    assert access.visible_devices(d, "A1u", NOW + timedelta(hours=1)) == ["dA1u"]


def test_a_read_only_key_reads_but_never_acts() -> None:
    d = tree()
    key = caller("A", read_only=True)
    assert access.check_device(d, key, "dA1", Need.READ, NOW).device_id == "dA1"
    for need in (Need.COMMAND, Need.MANAGE):
        with pytest.raises(Forbidden):
            access.check_device(d, key, "dA1", need, NOW)
    with pytest.raises(Forbidden):
        access.check_account(d, key, "A1", Need.MANAGE)


def test_a_disabled_account_and_everything_below_it_is_refused() -> None:
    d = tree()
    d.put_account(replace(d.accounts["A"], disabled=True))
    for who in ("A", "A1", "A1u", "Aop"):
        with pytest.raises(Forbidden):
            access.check_device(d, caller(who), "dA1u", Need.READ, NOW)
        with pytest.raises(Forbidden):
            access.check_account(d, caller(who), who, Need.READ)
        assert not access.is_active(d, who)
    # B and the platform are not affected
    assert access.check_device(d, caller("B"), "dB", Need.READ, NOW)
    assert access.is_active(d, "platform")


def test_an_unknown_caller_account_is_refused() -> None:
    with pytest.raises(Forbidden):
        access.check_device(tree(), caller("ghost"), "dA", Need.READ, NOW)


def test_transfer_moves_visibility_with_the_device() -> None:
    d = tree()
    d.put_device(DeviceEntry("dA1", "B"))
    assert "dA1" not in access.visible_devices(d, "A", NOW)
    assert "dA1" in access.visible_devices(d, "B", NOW)
    with pytest.raises(NotVisible):
        access.check_device(d, caller("A1"), "dA1", Need.READ, NOW)


def test_unsharing_removes_the_device_from_the_sharee() -> None:
    d = tree()
    d.put_device(DeviceEntry("dB", "B", shares=()))
    with pytest.raises(NotVisible):
        access.check_device(d, caller("A1u"), "dB", Need.READ, NOW)
    d.put_device(DeviceEntry("dB", "B", shares=(Share("A1u", None),)))
    assert access.check_device(d, caller("A1u"), "dB", Need.READ, NOW + timedelta(days=999))


def test_nobody_changes_their_own_role_or_disables_themselves() -> None:
    me = caller("A")
    with pytest.raises(Forbidden):
        access.check_self_change(me, "A", role=True, disabled=False)
    with pytest.raises(Forbidden):
        access.check_self_change(me, "A", role=False, disabled=True)
    access.check_self_change(me, "A", role=False, disabled=False)
    access.check_self_change(me, "A1", role=True, disabled=True)


def test_removing_an_account_keeps_the_tree_consistent() -> None:
    d = tree()
    d.remove_account("A1u")
    assert "A1u" not in d.children("A1")
    assert list(d.subtree("A1")) == ["A1"]
    with pytest.raises(Forbidden):
        access.check_device(d, caller("A1u"), "dA1u", Need.READ, NOW)


def test_live_streams_skip_disabled_devices_and_disabled_accounts() -> None:
    d = tree()
    assert access.streams_to(d, "A", "dA1", NOW)
    assert not access.streams_to(d, "B", "dA1", NOW)
    assert access.streams_to(d, "A1u", "dB", NOW)  # shared, live
    assert not access.streams_to(d, "A1u", "dBx", NOW)  # share expired
    d.put_device(DeviceEntry("dA1", "A1", disabled=True))
    assert not access.streams_to(d, "A", "dA1", NOW)
    assert access.check_device(d, caller("A"), "dA1", Need.READ, NOW)  # REST still shows it
    d.put_account(replace(d.accounts["A1"], disabled=True))
    assert not access.streams_to(d, "A1u", "dA1u", NOW)
