"""A small account tree for the unit tests of the gateway's rules.

platform (ADMIN)
├── A  distributor (ADMIN)          devices: dA
│   ├── A1 enterprise (ADMIN)       devices: dA1
│   │   └── A1u end user (VIEWER)   devices: dA1u
│   ├── Aop enterprise (OPERATOR)
│   └── Aview enterprise (VIEWER)
└── B  enterprise (ADMIN)           devices: dB (shared with A1u until NOW+1h), dBx (shared
                                              with A1u, expired)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.domain.directory import Directory
from gateway.domain.model import AccountNode, Caller, DeviceEntry, Kind, Role, Share

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def account(account_id: str, parents: tuple[str, ...], kind: Kind, role: Role) -> AccountNode:
    return AccountNode(
        account_id=account_id,
        parent_id=parents[-1] if parents else "",
        ancestors=parents,
        kind=kind,
        role=role,
        disabled=False,
    )


def tree() -> Directory:
    d = Directory()
    d.put_account(account("platform", (), Kind.PLATFORM, Role.ADMIN))
    d.put_account(account("A", ("platform",), Kind.DISTRIBUTOR, Role.ADMIN))
    d.put_account(account("A1", ("platform", "A"), Kind.ENTERPRISE, Role.ADMIN))
    d.put_account(account("A1u", ("platform", "A", "A1"), Kind.END_USER, Role.VIEWER))
    d.put_account(account("Aop", ("platform", "A"), Kind.ENTERPRISE, Role.OPERATOR))
    d.put_account(account("Aview", ("platform", "A"), Kind.ENTERPRISE, Role.VIEWER))
    d.put_account(account("B", ("platform",), Kind.ENTERPRISE, Role.ADMIN))
    d.put_device(DeviceEntry("dA", "A"))
    d.put_device(DeviceEntry("dA1", "A1"))
    d.put_device(DeviceEntry("dA1u", "A1u"))
    d.put_device(DeviceEntry("dB", "B", shares=(Share("A1u", NOW + timedelta(hours=1)),)))
    d.put_device(DeviceEntry("dBx", "B", shares=(Share("A1u", NOW - timedelta(seconds=1)),)))
    return d


def caller(account_id: str, *, read_only: bool = False) -> Caller:
    return Caller(account_id=account_id, credential_id=f"session-{account_id}", read_only=read_only)
