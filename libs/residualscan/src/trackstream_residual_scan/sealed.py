"""Sealed Kafka records: opened with the subject's data key, read from the key store itself.

Topics the platform seals carry their personal fields in the ``ts-sealed`` header, AES-256-GCM
under a per-subject data key (docs/architecture.md, "Sealed fields"). To find an identifier that
lives only there (the positive control), the scan opens each sealed header with the key of the
record's subject, read-only from Cassandra (``subject_data_keys``), refusing a key on the
deny-list (``destroyed_data_keys``) as every platform reader does; the plaintext is searched like
any other part of the record. After an erasure the key is gone: the header stays opaque, and
only what is still in clear (keys, values, other headers) can match.

This is the scanner's own code, written from the header format (version 1 | key id 16 | nonce
12 | ciphertext + tag; associated data ``ts-sealed/1\\0 topic \\0 record key \\0 key id \\0
ce_id``), not the platform's sealing library: a bug there must not hide a hit here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER = "ts-sealed"
_VERSION = 1
_KEY_ID, _NONCE, _TAG = 16, 12, 16
_AAD_PREFIX = b"ts-sealed/1\0"


@dataclass(slots=True)
class SealedCounts:
    """What became of the sealed records a scan met."""

    opened: int = 0
    #: the subject has no usable key (erased, or never had one): the header stays opaque
    no_key: int = 0
    #: the header is malformed or does not authenticate with the subject's key
    unreadable: int = 0

    def as_json(self) -> dict[str, int]:
        return {"opened": self.opened, "no_key": self.no_key, "unreadable": self.unreadable}


@dataclass(slots=True)
class SealedOpener:
    """Opens ``ts-sealed`` headers with keys read from the key store (a cassandra-driver
    ``Session`` bound to the platform keyspace), each subject's key once per scan."""

    session: Any
    counts: SealedCounts = field(default_factory=SealedCounts)
    _keys: dict[bytes, tuple[bytes, AESGCM] | None] = field(default_factory=dict)

    def _key(self, subject: bytes) -> tuple[bytes, AESGCM] | None:
        if subject in self._keys:
            return self._keys[subject]
        found: tuple[bytes, AESGCM] | None = None
        row = self.session.execute(
            "SELECT key_id, data_key FROM subject_data_keys WHERE subject_id = %s",
            (subject.decode("utf-8", "replace"),),
        ).one()
        if row is not None and row.key_id is not None:
            key_id = bytes(row.key_id)
            denied = self.session.execute(
                "SELECT key_id FROM destroyed_data_keys WHERE key_id = %s", (key_id,)
            ).one()
            if denied is None:
                found = (key_id, AESGCM(bytes(row.data_key)))
        self._keys[subject] = found
        return found

    def open(self, topic: str, key: bytes | None, headers: Any) -> bytes | None:
        """The plaintext of the record's sealed header, None when it has none or it cannot be
        opened (counted)."""
        values = dict(headers or ())
        header = values.get(HEADER)
        if header is None:
            return None
        if len(header) < 1 + _KEY_ID + _NONCE + _TAG or header[0] != _VERSION:
            self.counts.unreadable += 1
            return None
        key_id = header[1 : 1 + _KEY_ID]
        nonce = header[1 + _KEY_ID : 1 + _KEY_ID + _NONCE]
        known = self._key(key or b"")
        if known is None or known[0] != key_id:
            self.counts.no_key += 1
            return None
        aad = b"\0".join(
            (_AAD_PREFIX + topic.encode(), key or b"", key_id, values.get("ce_id", b""))
        )
        try:
            plaintext = known[1].decrypt(nonce, header[1 + _KEY_ID + _NONCE :], aad)
        except InvalidTag:
            self.counts.unreadable += 1
            return None
        self.counts.opened += 1
        return plaintext
