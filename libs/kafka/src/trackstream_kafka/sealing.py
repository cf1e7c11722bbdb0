"""Sealed fields: crypto-shredding of the personal fields of events (docs/architecture.md,
"Sealed fields").

On a topic the catalog marks ``sealed``, the publisher moves every field whose
``(trackstream.options.v1.personal_data)`` is above PSEUDONYMOUS (LOCATION, BEHAVIOURAL,
IDENTIFYING) into an AES-256-GCM ciphertext under the data key of the record's subject (its
Kafka key: a pseudonymous device or account id), carried in the ``ts-sealed`` header, and
clears them in the value; the value stays a valid protobuf of the same type. The consumer opens
the header and hands over the whole event. Destroying the
subject's key (the privacy service, at erasure) makes every copy of those fields unreadable:
Kafka's own, mirrors, an analyst's dump, a backup.

``ts-sealed`` = version (1 byte, 1) | key id (16 bytes) | nonce (12 bytes) | ciphertext + tag.
The associated data binds the ciphertext to where it belongs, so it cannot be moved to another
subject, topic or event: ``b"ts-sealed/1\\0" + topic + b"\\0" + record key + b"\\0" + key id
+ b"\\0" + ce_id``. The plaintext is the whole event's protobuf encoding (cheaper to make than
a message of the sealed fields alone, and a few bytes more); opening replaces the value with it.

Keys live in a :class:`DataKeyStore` (Cassandra: :class:`CassandraDataKeyStore`, tables
``subject_data_keys``, ``destroyed_data_keys``, ``destroyed_data_keys_by_subject``). A key is
created on first use with a lightweight transaction (two producers racing get the same key);
destroying one writes the deny-list rows first, then deletes the key row. Every reader refuses a
deny-listed key, so a key row restored from a backup stays dead, and no new key is ever created
for a destroyed subject.

:class:`DataKeys` is the per-process view with a bounded cache. Its TTL (``cache_ttl_s``,
30 s by default) bounds how long a running process may still seal or open with a key after it
was destroyed; a destroyed key id, once seen, is refused for good.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from trackstream.options.v1 import privacy_pb2

SEALED_HEADER = "ts-sealed"
FORMAT_VERSION = 1
KEY_ID_BYTES = 16
NONCE_BYTES = 12
DATA_KEY_BYTES = 32
_AAD_PREFIX = b"ts-sealed/1\0"
_HEADER_PREFIX = bytes([FORMAT_VERSION])
_MIN_HEADER = 1 + KEY_ID_BYTES + NONCE_BYTES + 16

#: categories sealed: everything above a pseudonymous identifier
SEALED_CATEGORIES = frozenset(
    {
        privacy_pb2.PERSONAL_DATA_LOCATION,
        privacy_pb2.PERSONAL_DATA_BEHAVIOURAL,
        privacy_pb2.PERSONAL_DATA_IDENTIFYING,
    }
)


class SealingError(Exception):
    """A sealed record that cannot be opened: a malformed header, or a ciphertext that does not
    authenticate (tampered, or moved to another topic, key or event). A poison message."""


class Shredded(Exception):
    """A sealed record whose key is missing or destroyed (its subject was erased): skip it."""


class SubjectShredded(Exception):
    """The subject's data key was destroyed (it was erased): nothing is sealed for it again."""


def subject_hash(subject_id: str) -> str:
    """What the deny-list keeps of a subject: a hash (the subject ids are random UUIDs, so the
    hash cannot be reversed without the id, and it names no one by itself)."""
    return hashlib.sha256(b"trackstream-data-key\0" + subject_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: bytes
    secret: bytes = field(repr=False)
    cipher: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES or len(self.secret) != DATA_KEY_BYTES:
            raise ValueError("a data key is a 16-byte id and a 32-byte AES-256 key")
        object.__setattr__(self, "cipher", AESGCM(self.secret))

    @classmethod
    def generate(cls) -> DataKey:
        return cls(os.urandom(KEY_ID_BYTES), AESGCM.generate_key(bit_length=256))


class DataKeyStore(Protocol):
    """Where data keys live (Cassandra in services, a dict in unit tests)."""

    async def get(self, subject_id: str) -> DataKey | None: ...

    async def create_if_absent(self, subject_id: str, candidate: DataKey) -> DataKey:
        """Store ``candidate`` unless the subject has a key; returns the subject's key."""
        ...

    async def is_destroyed(self, key_id: bytes) -> bool: ...

    async def subject_destroyed(self, subject_id: str) -> bool: ...

    async def destroy(self, subject_id: str) -> bool:
        """Deny-list the subject (and its key, if any) first, then delete the key; True when a
        key existed. Idempotent."""
        ...


# --- field plans ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """Which fields of a message type are sealed (by name) and which stay in the value."""

    sealed: tuple[str, ...]
    clear: tuple[str, ...]


@functools.cache
def field_plan(descriptor: Descriptor) -> FieldPlan:
    """Computed once per message type from the ``personal_data`` option of its fields."""
    sealed: list[str] = []
    clear: list[str] = []
    for f in descriptor.fields:
        category = f.GetOptions().Extensions[privacy_pb2.personal_data]
        (sealed if category in SEALED_CATEGORIES else clear).append(f.name)
    return FieldPlan(tuple(sealed), tuple(clear))


def sealed_field_names(message_type: type[Message]) -> tuple[str, ...]:
    return field_plan(message_type.DESCRIPTOR).sealed


def associated_data(topic: str, record_key: bytes, key_id: bytes, event_id: bytes) -> bytes:
    return b"\0".join((_AAD_PREFIX + topic.encode(), record_key, key_id, event_id))


def seal(
    event: Message, *, topic: str, record_key: bytes, event_id: bytes, key: DataKey
) -> tuple[bytes, bytes]:
    """(value, ``ts-sealed`` header value) of ``event``: the value without the sealed fields, the
    header with the whole event encrypted. ``event`` itself is left as it is."""
    sealed = _SEALED_BY_TYPE.get(type(event))
    if sealed is None:
        sealed = _SEALED_BY_TYPE[type(event)] = field_plan(event.DESCRIPTOR).sealed
    kept = type(event)()
    kept.CopyFrom(event)
    for name in sealed:
        kept.ClearField(name)
    nonce = _NONCES.take()
    ciphertext = key.cipher.encrypt(
        nonce,
        event.SerializeToString(),
        b"\0".join((_AAD_PREFIX + topic.encode(), record_key, key.key_id, event_id)),
    )
    return kept.SerializeToString(), b"".join((_HEADER_PREFIX, key.key_id, nonce, ciphertext))


_SEALED_BY_TYPE: dict[type[Message], tuple[str, ...]] = {}


class _NoncePool:
    """Random 96-bit GCM nonces, read from the OS 256 at a time (one system call instead of
    one per sealed event; the bytes are as random as ``os.urandom``'s). A forked child drops
    what it inherited, so parent and child never hand out the same nonce."""

    BLOCK = 256

    def __init__(self) -> None:
        self._block = b""
        self._at = 0
        self._lock = threading.Lock()  # a nonce handed out twice would break GCM

    def take(self) -> bytes:
        with self._lock:
            at = self._at
            if at >= len(self._block):
                self._block, at = os.urandom(NONCE_BYTES * self.BLOCK), 0
            self._at = at + NONCE_BYTES
            return self._block[at : at + NONCE_BYTES]

    def drop(self) -> None:
        self._block, self._at = b"", 0
        self._lock = threading.Lock()


_NONCES = _NoncePool()
os.register_at_fork(after_in_child=_NONCES.drop)


def header_key_id(header: bytes) -> bytes:
    """The key id a ``ts-sealed`` header names; :class:`SealingError` if it is malformed."""
    if len(header) < _MIN_HEADER or header[0] != FORMAT_VERSION:
        raise SealingError(f"{SEALED_HEADER}: malformed or unknown version")
    return header[1 : 1 + KEY_ID_BYTES]


def open_into(
    message: Message,
    header: bytes,
    *,
    topic: str,
    record_key: bytes,
    event_id: bytes,
    key: DataKey,
) -> None:
    """Decrypt ``header`` into ``message`` (the parsed value): the sealed copy is the whole
    event, so it replaces what the value held."""
    key_id = header_key_id(header)
    if key_id != key.key_id:
        raise SealingError(f"{SEALED_HEADER}: sealed under another key")
    nonce = header[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + NONCE_BYTES]
    try:
        plaintext = key.cipher.decrypt(
            nonce,
            header[1 + KEY_ID_BYTES + NONCE_BYTES :],
            associated_data(topic, record_key, key_id, event_id),
        )
    except Exception as err:  # InvalidTag: tampered, or moved to another topic/key/event
        raise SealingError(f"{SEALED_HEADER}: does not authenticate") from err
    message.ParseFromString(plaintext)


# --- the per-process view ------------------------------------------------------------------


def catalog_seals(topic_name: str) -> bool:
    """Whether the catalog marks ``topic_name`` as sealed (a topic outside it is not)."""
    return _catalog_sealed().get(topic_name, False)


@functools.cache
def _catalog_sealed() -> Mapping[str, bool]:
    from trackstream_events.catalog import all_topics

    return {t.name: t.sealed for t in all_topics()}


#: what the cache holds per subject: (expires at, key or None for "no usable key")
_Entry = tuple[float, DataKey | None]


class DataKeys:
    """The data keys one process uses, with a bounded cache (module docstring: the TTL bounds
    how long a destroyed key may still be used here). Lookups of several subjects run
    concurrently; concurrent lookups of one subject share a single query."""

    def __init__(
        self,
        store: DataKeyStore,
        *,
        cache_ttl_s: float = 30.0,
        max_entries: int = 100_000,
        seals: Callable[[str], bool] = catalog_seals,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._ttl = cache_ttl_s
        self._max = max_entries
        self._seals = seals
        self._clock = clock
        self._sealing: dict[str, _Entry] = {}
        self._opening: dict[str, _Entry] = {}
        self._destroyed: set[bytes] = set()
        self._inflight: dict[tuple[str, str], asyncio.Future[DataKey | None]] = {}

    def seals(self, topic_name: str) -> bool:
        return self._seals(topic_name)

    # sealing ----------------------------------------------------------------------------

    async def for_sealing(self, subjects: Iterable[str]) -> dict[str, DataKey]:
        """The key of each subject, created when it has none. Raises :class:`SubjectShredded`
        for a subject whose key was destroyed (naming no subject: it may be personal)."""
        found: dict[str, DataKey | None] = {}
        missing = []
        now = self._clock()
        for subject in set(subjects):
            entry = self._sealing.get(subject)
            if entry is not None and entry[0] > now:
                found[subject] = entry[1]
            else:
                missing.append(subject)
        if missing:
            keys = await asyncio.gather(
                *(self._once("seal", s, self._load_for_sealing) for s in missing)
            )
            found.update(zip(missing, keys, strict=True))
        shredded = [s for s, k in found.items() if k is None]
        if shredded:
            raise SubjectShredded(f"{len(shredded)} subject(s) erased: no data key")
        return {s: k for s, k in found.items() if k is not None}

    async def _load_for_sealing(self, subject: str) -> DataKey | None:
        if await self.store.subject_destroyed(subject):
            key: DataKey | None = None
        else:
            key = await self.store.get(subject)
            if key is None:
                key = await self.store.create_if_absent(subject, DataKey.generate())
            if key.key_id in self._destroyed or await self.store.is_destroyed(key.key_id):
                self._destroyed.add(key.key_id)
                key = None  # a key row restored from a backup: refused
        self._remember(self._sealing, subject, key)
        return key

    # opening ----------------------------------------------------------------------------

    async def for_opening(
        self, wanted: Iterable[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], DataKey | None]:
        """For each (subject, key id) of sealed records: the key, or None when it is missing or
        destroyed (the record is then skipped: its subject was erased)."""
        result: dict[tuple[str, bytes], DataKey | None] = {}
        missing: list[tuple[str, bytes]] = []
        now = self._clock()
        for subject, key_id in set(wanted):
            if key_id in self._destroyed:
                result[(subject, key_id)] = None
                continue
            entry = self._opening.get(subject)
            if (
                entry is not None
                and entry[0] > now
                and (entry[1] is None or entry[1].key_id == key_id)
            ):
                result[(subject, key_id)] = entry[1]
            else:
                missing.append((subject, key_id))
        if missing:
            keys = await asyncio.gather(
                *(self._once("open", s, self._load_for_opening) for s, _ in missing)
            )
            for (subject, key_id), key in zip(missing, keys, strict=True):
                result[(subject, key_id)] = (
                    key if key is not None and key.key_id == key_id else None
                )
        return result

    async def _load_for_opening(self, subject: str) -> DataKey | None:
        key = await self.store.get(subject)
        if key is not None and (
            key.key_id in self._destroyed or await self.store.is_destroyed(key.key_id)
        ):
            self._destroyed.add(key.key_id)
            key = None  # restored from a backup after it was destroyed: refused
        self._remember(self._opening, subject, key)
        return key

    # shared -----------------------------------------------------------------------------

    async def _once(self, kind: str, subject: str, load: Callable[[str], Any]) -> DataKey | None:
        slot = (kind, subject)
        pending = self._inflight.get(slot)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[DataKey | None] = asyncio.ensure_future(load(subject))
        self._inflight[slot] = future
        try:
            return await future
        finally:
            self._inflight.pop(slot, None)

    def _remember(self, cache: dict[str, _Entry], subject: str, key: DataKey | None) -> None:
        if len(cache) >= self._max:
            now = self._clock()
            for stale in [s for s, (expires, _) in cache.items() if expires <= now]:
                del cache[stale]
            while len(cache) >= self._max:  # still full: drop the oldest insertions
                del cache[next(iter(cache))]
        cache[subject] = (self._clock() + self._ttl, key)

    def forget(self, subject: str) -> None:
        """Drop what this process remembers of ``subject`` (after destroying its key here)."""
        self._sealing.pop(subject, None)
        self._opening.pop(subject, None)

    async def destroy(self, subject: str) -> bool:
        """Destroy ``subject``'s key in the store and forget it here (the privacy service)."""
        key = await self.store.get(subject)
        existed = await self.store.destroy(subject)
        if key is not None:
            self._destroyed.add(key.key_id)
        self.forget(subject)
        return existed


#: the keys of one fetch's sealed records, by (subject, key id)
OpenKeys = dict[tuple[str, bytes], DataKey | None]


async def keys_for_records(
    data_keys: DataKeys | None, fetched: Iterable[Sequence[Any]]
) -> OpenKeys:
    """The data keys the sealed records of a fetch need (lists of ``ConsumerRecord``s),
    looked up together: the first step of opening, before :func:`open_record`."""
    if data_keys is None:
        return {}
    wanted = [w for records in fetched for w in open_keys_wanted(records, data_keys.seals)]
    return await data_keys.for_opening(wanted) if wanted else {}


def open_record(
    message: Message, record: Any, event_id: str, keys: OpenKeys, data_keys: DataKeys | None
) -> None:
    """Open a consumed record (``ConsumerRecord``-like) into ``message``, its decoded value,
    when it is sealed; the one opening path of every consumer (the shared ``EventConsumer``,
    the gateway's live feed, ``tail``). Raises :class:`Shredded` when its key is gone and
    :class:`SealingError` when it does not authenticate. A record without the header (published
    before its topic was sealed) is left as it is."""
    if data_keys is None or not data_keys.seals(record.topic):
        return
    header = sealed_header(record.headers)
    if header is None:
        return
    key = keys.get(((record.key or b"").decode("utf-8", "replace"), header_key_id(header)))
    if key is None:
        raise Shredded()
    open_into(
        message,
        header,
        topic=record.topic,
        record_key=record.key or b"",
        event_id=event_id.encode(),
        key=key,
    )


def open_keys_wanted(
    records: Sequence[Any], seals: Callable[[str], bool]
) -> list[tuple[str, bytes]]:
    """(subject, key id) of every sealed record of a fetch (``ConsumerRecord``-like)."""
    wanted = []
    for record in records:
        if record.value is None or not seals(record.topic):
            continue
        header = sealed_header(record.headers)
        if header is not None and len(header) >= _MIN_HEADER:
            wanted.append(
                ((record.key or b"").decode("utf-8", "replace"), header[1 : 1 + KEY_ID_BYTES])
            )
    return wanted


def sealed_header(headers: Iterable[tuple[str, bytes]] | None) -> bytes | None:
    for name, value in headers or ():
        if name == SEALED_HEADER:
            return value
    return None


# --- the Cassandra store ---------------------------------------------------------------------


class _Cql(Protocol):
    async def execute(self, cql: str, params: Sequence[Any] | None = None) -> list[Any]: ...


class CassandraDataKeyStore:
    """The tables of migration 0014 (``trackstream_cassandra.CassandraStore`` or anything with
    its ``execute``)."""

    def __init__(self, cql: _Cql) -> None:
        self._cql = cql

    async def get(self, subject_id: str) -> DataKey | None:
        rows = await self._cql.execute(
            "SELECT key_id, data_key FROM subject_data_keys WHERE subject_id = ?", (subject_id,)
        )
        if not rows or rows[0].key_id is None:
            return None
        return DataKey(bytes(rows[0].key_id), bytes(rows[0].data_key))

    async def create_if_absent(self, subject_id: str, candidate: DataKey) -> DataKey:
        rows = await self._cql.execute(
            "INSERT INTO subject_data_keys (subject_id, key_id, data_key, created_at) "
            "VALUES (?, ?, ?, ?) IF NOT EXISTS",
            (subject_id, candidate.key_id, candidate.secret, datetime.now(UTC)),
        )
        row = rows[0]._asdict()
        if row.get("[applied]", row.get("applied")):
            return candidate
        return DataKey(bytes(row["key_id"]), bytes(row["data_key"]))  # another producer won

    async def is_destroyed(self, key_id: bytes) -> bool:
        rows = await self._cql.execute(
            "SELECT key_id FROM destroyed_data_keys WHERE key_id = ?", (key_id,)
        )
        return bool(rows)

    async def subject_destroyed(self, subject_id: str) -> bool:
        rows = await self._cql.execute(
            "SELECT subject_hash FROM destroyed_data_keys_by_subject WHERE subject_hash = ?",
            (subject_hash(subject_id),),
        )
        return bool(rows)

    async def destroy(self, subject_id: str) -> bool:
        key = await self.get(subject_id)
        hashed, now = subject_hash(subject_id), datetime.now(UTC)
        key_id = key.key_id if key is not None else None
        # the deny-list first: a crash after it leaves a refused key, never a live one
        if key_id is not None:
            await self._cql.execute(
                "INSERT INTO destroyed_data_keys (key_id, subject_hash, destroyed_at) "
                "VALUES (?, ?, ?)",
                (key_id, hashed, now),
            )
        await self._cql.execute(
            "INSERT INTO destroyed_data_keys_by_subject (subject_hash, key_id, destroyed_at) "
            "VALUES (?, ?, ?) IF NOT EXISTS",
            (hashed, key_id, now),
        )
        if key is None:
            return False
        await self._cql.execute("DELETE FROM subject_data_keys WHERE subject_id = ?", (subject_id,))
        return True


class InMemoryDataKeyStore:
    """The same contract in a dict (unit tests; tests/unit/test_sealing.py runs both)."""

    def __init__(self) -> None:
        self.keys: dict[str, DataKey] = {}
        self.destroyed: dict[bytes, str] = {}
        self.destroyed_subjects: set[str] = set()
        self.queries = 0

    async def get(self, subject_id: str) -> DataKey | None:
        self.queries += 1
        await asyncio.sleep(0)
        return self.keys.get(subject_id)

    async def create_if_absent(self, subject_id: str, candidate: DataKey) -> DataKey:
        self.queries += 1
        await asyncio.sleep(0)
        return self.keys.setdefault(subject_id, candidate)

    async def is_destroyed(self, key_id: bytes) -> bool:
        self.queries += 1
        return key_id in self.destroyed

    async def subject_destroyed(self, subject_id: str) -> bool:
        self.queries += 1
        return subject_hash(subject_id) in self.destroyed_subjects

    async def destroy(self, subject_id: str) -> bool:
        key = self.keys.get(subject_id)
        if key is not None:
            self.destroyed[key.key_id] = subject_hash(subject_id)
        self.destroyed_subjects.add(subject_hash(subject_id))
        return self.keys.pop(subject_id, None) is not None
