"""Who may see and do what: pure rules over the :class:`Directory`.

* An account sees a device when it owns it, is an ancestor of its owner (a distributor sees its
  sub-accounts' devices), or holds an unexpired share of it.
* It sees the accounts of its own subtree (itself included).
* ADMIN manages accounts of its subtree and devices its subtree owns (update, transfer, shares,
  share links, API keys); OPERATOR reads and sends commands to those devices; VIEWER reads.
  A shared device is read-only for the account it is shared with.
* A read-only API key reads only, whatever its account's role.
* A disabled account, or one below a disabled account, is refused everything.

What the caller may not see raises :class:`NotVisible` (answered 404: never reveal that it
exists); what it sees but may not change raises :class:`Forbidden` (403).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from gateway.domain.directory import Directory
from gateway.domain.model import AccountNode, Caller, DeviceEntry, Role


class NotVisible(LookupError):
    """The thing does not exist for this caller (404)."""


class Forbidden(PermissionError):
    """The caller sees it but may not do this (403)."""


class Need(Enum):
    READ = "read"
    COMMAND = "command"
    MANAGE = "manage"


def is_active(directory: Directory, account_id: str) -> bool:
    """The account exists and neither it nor any ancestor is disabled."""
    node = directory.accounts.get(account_id)
    if node is None or node.disabled:
        return False
    for ancestor in node.ancestors:
        parent = directory.accounts.get(ancestor)
        if parent is not None and parent.disabled:
            return False
    return True


def in_subtree(directory: Directory, root_id: str, account_id: str) -> bool:
    """``account_id`` is ``root_id`` or lies below it."""
    if account_id == root_id:
        return True
    node = directory.accounts.get(account_id)
    return node is not None and root_id in node.ancestors


def share_active(device: DeviceEntry, account_id: str, now: datetime) -> bool:
    return any(
        share.account_id == account_id and (share.until is None or share.until > now)
        for share in device.shares
    )


def sees_device(directory: Directory, account_id: str, device_id: str, now: datetime) -> bool:
    device = directory.devices.get(device_id)
    if device is None:
        return False
    return in_subtree(directory, account_id, device.owner_account_id) or share_active(
        device, account_id, now
    )


def streams_to(directory: Directory, account_id: str, device_id: str, now: datetime) -> bool:
    """Whether a live message of the device goes to the account's sockets: it sees the device,
    the device is not disabled (hidden from live streams), and the account is active."""
    device = directory.devices.get(device_id)
    return (
        device is not None
        and not device.disabled
        and sees_device(directory, account_id, device_id, now)
        and is_active(directory, account_id)
    )


def effective_role(directory: Directory, caller: Caller) -> Role:
    node = directory.accounts.get(caller.account_id)
    if node is None:
        return Role.UNSPECIFIED
    if caller.read_only:
        return Role.VIEWER
    return node.role


def caller_node(directory: Directory, caller: Caller) -> AccountNode:
    """The caller's account, refusing a disabled (or vanished) one."""
    node = directory.accounts.get(caller.account_id)
    if node is None or not is_active(directory, caller.account_id):
        raise Forbidden("the account is disabled")
    return node


def _require_role(directory: Directory, caller: Caller, need: Need) -> None:
    role = effective_role(directory, caller)
    if need is Need.MANAGE and role is not Role.ADMIN:
        raise Forbidden("this needs the admin role (and a key that is not read-only)")
    if need is Need.COMMAND and role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("sending commands needs the admin or operator role")


def check_device(
    directory: Directory, caller: Caller, device_id: str, need: Need, now: datetime
) -> DeviceEntry:
    """The device, when the caller may do ``need`` with it."""
    caller_node(directory, caller)
    device = directory.devices.get(device_id)
    if device is None:
        raise NotVisible(device_id)
    owns = in_subtree(directory, caller.account_id, device.owner_account_id)
    if not owns and not share_active(device, caller.account_id, now):
        raise NotVisible(device_id)
    if need is not Need.READ:
        if not owns:
            raise Forbidden("a shared device is read-only")
        _require_role(directory, caller, need)
    return device


def check_account(directory: Directory, caller: Caller, account_id: str, need: Need) -> AccountNode:
    """The account, when it lies in the caller's subtree and the caller may do ``need``."""
    caller_node(directory, caller)
    node = directory.accounts.get(account_id)
    if node is None or not in_subtree(directory, caller.account_id, account_id):
        raise NotVisible(account_id)
    if need is not Need.READ:
        _require_role(directory, caller, need)
    return node


def check_self_change(caller: Caller, account_id: str, *, role: bool, disabled: bool) -> None:
    """Nobody changes their own role or disables their own account (a parent admin does)."""
    if account_id == caller.account_id and (role or disabled):
        raise Forbidden("an account cannot change its own role or disable itself")


def visible_devices(directory: Directory, account_id: str, now: datetime) -> list[str]:
    """Every device the account sees, sorted by id (the order pages follow)."""
    found: set[str] = set()
    for member in directory.subtree(account_id):
        found |= directory.owned_by(member)
    for device_id in directory.shared_with(account_id):
        device = directory.devices.get(device_id)
        if device is not None and share_active(device, account_id, now):
            found.add(device_id)
    return sorted(found)
