"""Sub-package reassembly (header bit 13: package total and 1-based index).

A message is identified by terminal phone, message id and the serial of its first package.
The standard numbers the packages of one message with consecutive serials, so a package's
first serial is ``serial - (index - 1)``. Real terminals interleave other messages (the
SmallChi/JT808 ``Demo5`` capture of a 10-package JPEG skips serials 0x2034 and 0x2038), so a
package whose derived key is unknown joins the newest pending message with the same phone,
id and total when its slot is free and its serial is at most ``max_serial_gap`` past what
consecutive numbering would give.

Pure and bounded: at most ``max_pending`` messages and ``max_total_bytes`` buffered (least
recently seen messages are evicted first), and messages not added to for ``max_age`` seconds
of the caller's clock are dropped on the next :meth:`Jt808Reassembler.add` or
:meth:`Jt808Reassembler.expire`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.header import Jt808Header

__all__ = ["Jt808PendingMessage", "Jt808Reassembled", "Jt808Reassembler"]

_Key = tuple[bytes, int, int]


@dataclass(frozen=True, slots=True)
class Jt808Reassembled:
    """A whole sub-packaged message: the first package's header and the joined body."""

    header: Jt808Header
    body: bytes


@dataclass(frozen=True, slots=True)
class Jt808PendingMessage:
    """A snapshot of an incomplete message (e.g. to send a 0x8003 / 0x8800 resend request)."""

    header: Jt808Header  # the header of the package with the lowest index received
    first_serial: int
    total: int
    missing: tuple[int, ...]
    buffered_bytes: int
    first_seen: float
    last_seen: float


@dataclass(slots=True)
class _Entry:
    header: Jt808Header
    first_serial: int
    total: int
    first_seen: float
    last_seen: float
    packets: dict[int, bytes] = field(default_factory=dict)
    serials: dict[int, int] = field(default_factory=dict)
    size: int = 0

    def snapshot(self) -> Jt808PendingMessage:
        missing = tuple(i for i in range(1, self.total + 1) if i not in self.packets)
        return Jt808PendingMessage(
            self.header,
            self.first_serial,
            self.total,
            missing,
            self.size,
            self.first_seen,
            self.last_seen,
        )


class Jt808Reassembler:
    """Collects the packages of sub-packaged messages and returns each message when whole."""

    def __init__(
        self,
        *,
        max_pending: int = 64,
        max_total_bytes: int = 8 * 1024 * 1024,
        max_age: float = 300.0,
        max_serial_gap: int = 64,
    ) -> None:
        if max_pending < 1 or max_total_bytes < 1 or max_age <= 0 or max_serial_gap < 0:
            raise ProtocolError("reassembler bounds must be positive")
        self.max_pending = max_pending
        self.max_total_bytes = max_total_bytes
        self.max_age = max_age
        self.max_serial_gap = max_serial_gap
        self._entries: dict[_Key, _Entry] = {}
        self._bytes = 0
        #: messages dropped before completion (bounds or age)
        self.evicted = 0
        #: messages returned whole
        self.completed = 0

    @property
    def pending_count(self) -> int:
        return len(self._entries)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def pending(self) -> list[Jt808PendingMessage]:
        """Incomplete messages, least recently seen first."""
        return [entry.snapshot() for entry in self._entries.values()]

    def missing(self, header: Jt808Header) -> tuple[int, ...]:
        """The package indexes still missing from the pending message that the package with
        ``header`` belongs to (empty when there is no such message)."""
        key = self._find(header)
        entry = self._entries.get(key) if key is not None else None
        return entry.snapshot().missing if entry is not None else ()

    def expire(self, now: float) -> list[Jt808PendingMessage]:
        """Drop messages not added to for ``max_age``; return what was dropped."""
        stale = [k for k, e in self._entries.items() if now - e.last_seen > self.max_age]
        return [self._drop(k) for k in stale]

    def add(self, header: Jt808Header, data: bytes, now: float) -> Jt808Reassembled | None:
        """Add one package (its header and body); return the message once all are here."""
        total, index = header.packet_total, header.packet_index
        if total is None or index is None:
            raise ProtocolError(f"0x{header.msg_id:04X} is not a sub-package")
        if len(data) > self.max_total_bytes:
            raise ProtocolError("sub-package larger than the reassembly budget")
        self.expire(now)
        key = self._find(header)
        entry = self._entries.get(key) if key is not None else None
        if entry is None or key is None:
            key = (header.phone_bcd, header.msg_id, (header.serial - (index - 1)) & 0xFFFF)
            if key in self._entries:  # same first serial, other total: a new message
                self._drop(key)
            while len(self._entries) >= self.max_pending:
                self._drop(next(iter(self._entries)))
            entry = _Entry(header, key[2], total, now, now)
            self._entries[key] = entry
        else:
            self._entries[key] = self._entries.pop(key)  # most recently seen last
        entry.last_seen = now
        previous = entry.packets.get(index)
        if previous is not None:  # a resent package replaces the first copy
            entry.size -= len(previous)
            self._bytes -= len(previous)
        entry.packets[index] = data
        entry.serials[index] = header.serial
        entry.size += len(data)
        self._bytes += len(data)
        if index == 1 or (entry.header.packet_index or 0) > index:
            entry.header = header
        while self._bytes > self.max_total_bytes:
            oldest = next(iter(self._entries))
            if oldest == key:
                self._drop(key)
                raise ProtocolError(
                    f"sub-packaged 0x{header.msg_id:04X} outgrew the reassembly budget "
                    f"of {self.max_total_bytes} bytes"
                )
            self._drop(oldest)
        if len(entry.packets) < entry.total:
            return None
        del self._entries[key]
        self._bytes -= entry.size
        self.completed += 1
        body = b"".join(entry.packets[i] for i in range(1, entry.total + 1))
        return Jt808Reassembled(entry.header, body)

    def _find(self, header: Jt808Header) -> _Key | None:
        total, index = header.packet_total, header.packet_index
        if total is None or index is None:
            return None
        derived = (header.phone_bcd, header.msg_id, (header.serial - (index - 1)) & 0xFFFF)
        entry = self._entries.get(derived)
        if entry is not None and entry.total == total:
            return derived
        # interleaved serials: the newest compatible pending message, if any
        for key in reversed(self._entries):
            entry = self._entries[key]
            if key[0] != header.phone_bcd or key[1] != header.msg_id or entry.total != total:
                continue
            if entry.serials.get(index) == header.serial:
                return key  # this very package, added before
            if index in entry.packets:
                continue
            gap = (header.serial - entry.first_serial) & 0xFFFF
            if index - 1 <= gap <= index - 1 + self.max_serial_gap:
                return key
        return None

    def _drop(self, key: _Key) -> Jt808PendingMessage:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        self.evicted += 1
        return entry.snapshot()
