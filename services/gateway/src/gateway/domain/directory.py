"""The in-memory read model: the account tree, the device registry, revoked credentials and
API keys, as the compacted identity topics (and the gateway's own writes) describe them.

Pure data with indexes; no I/O. Kafka records and write-through results both go through the
``put_*``/``remove_*`` methods, so the two paths cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from gateway.domain.model import AccountNode, ApiKeyEntry, DeviceEntry

RevocationListener = Callable[[str], None]


class Directory:
    def __init__(self) -> None:
        self.accounts: dict[str, AccountNode] = {}
        self.devices: dict[str, DeviceEntry] = {}
        self.api_keys: dict[str, ApiKeyEntry] = {}
        #: credential id -> when its tokens expire anyway (None: unknown)
        self.revoked: dict[str, datetime | None] = {}
        self._children: dict[str, set[str]] = {}
        self._owned: dict[str, set[str]] = {}
        self._shared_with: dict[str, set[str]] = {}
        self._revocation_listeners: list[RevocationListener] = []

    # ------------------------------------------------------------------ accounts

    def put_account(self, node: AccountNode) -> None:
        self.remove_account(node.account_id, keep_children=True)
        self.accounts[node.account_id] = node
        if node.parent_id:
            self._children.setdefault(node.parent_id, set()).add(node.account_id)

    def remove_account(self, account_id: str, *, keep_children: bool = False) -> None:
        old = self.accounts.pop(account_id, None)
        if old is not None and old.parent_id:
            self._children.get(old.parent_id, set()).discard(account_id)
        if not keep_children:
            self._children.pop(account_id, None)

    def children(self, account_id: str) -> set[str]:
        return self._children.get(account_id, set())

    def subtree(self, account_id: str) -> Iterator[str]:
        """The account and every account below it."""
        pending = [account_id]
        seen: set[str] = set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            yield current
            pending.extend(self._children.get(current, ()))

    # ------------------------------------------------------------------ devices

    def put_device(self, entry: DeviceEntry) -> None:
        self.remove_device(entry.device_id)
        self.devices[entry.device_id] = entry
        self._owned.setdefault(entry.owner_account_id, set()).add(entry.device_id)
        for share in entry.shares:
            self._shared_with.setdefault(share.account_id, set()).add(entry.device_id)

    def remove_device(self, device_id: str) -> None:
        old = self.devices.pop(device_id, None)
        if old is None:
            return
        self._owned.get(old.owner_account_id, set()).discard(device_id)
        for share in old.shares:
            self._shared_with.get(share.account_id, set()).discard(device_id)

    def owned_by(self, account_id: str) -> set[str]:
        return self._owned.get(account_id, set())

    def shared_with(self, account_id: str) -> set[str]:
        return self._shared_with.get(account_id, set())

    # ------------------------------------------------------------------ credentials

    def on_revocation(self, listener: RevocationListener) -> None:
        self._revocation_listeners.append(listener)

    def revoke(self, credential_id: str, expires_at: datetime | None = None) -> None:
        self.revoked[credential_id] = expires_at
        for listener in self._revocation_listeners:
            listener(credential_id)

    def unrevoke(self, credential_id: str) -> None:
        """A tombstone on the revocations topic: the entry is moot (expired) and compacted away."""
        self.revoked.pop(credential_id, None)

    def is_revoked(self, credential_id: str) -> bool:
        return credential_id in self.revoked

    def put_api_key(self, entry: ApiKeyEntry) -> None:
        self.api_keys[entry.key_id] = entry

    def remove_api_key(self, key_id: str) -> None:
        """The key was revoked (a tombstone): it stops working, open sockets close."""
        if self.api_keys.pop(key_id, None) is not None:
            for listener in self._revocation_listeners:
                listener(key_id)
