"""GT06 framing: CRC-16/X.25, the frame value and the stream splitter.

Wire format (protocols.md §4)::

    78 78 | LL   | proto | content | serial(2) | crc(2) | 0D 0A     LL   = 1 + len(content) + 4
    79 79 | LLLL | proto | content | serial(2) | crc(2) | 0D 0A     LLLL = 1 + len(content) + 4

The CRC (CRC-16/X.25, a.k.a. CRC-ITU) covers the length field up to and including the serial.

One vendor variant is framed differently: Wi-Fi reports 0x17 and 0x69 under a ``78 78`` header
put the access-point count where the length belongs and carry no serial and no CRC::

    78 78 | N | 17/69 | time BCD(6) | N x (mac 6, rssi 1)
          | C | mcc 2 | mnc 1 | C x (lac 2, ci 2, rssi 1) | 0D 0A

The splitter recognises it structurally (never by scanning for ``0D 0A``) and marks such frames
with ``serial=None`` and ``crc_ok=None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from trackstream_protocols.errors import FrameTooLarge, ProtocolError

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "Gt06Frame",
    "Gt06FrameSplitter",
    "crc16_x25",
    "parse_frame",
]

HEADER_SHORT = b"\x78\x78"
HEADER_LONG = b"\x79\x79"
TRAILER = b"\r\n"
#: the protocol numbers that use the uncounted Wi-Fi layout under a ``78 78`` header
WIFI_UNCOUNTED = frozenset({0x17, 0x69})
#: default bound on one frame (and so on the splitter's buffer); real GT06 frames stay < 1 KiB
DEFAULT_MAX_FRAME_SIZE = 4096
#: the smallest useful bound: a full ``78 78`` frame with a 255-byte length fits
MIN_MAX_FRAME_SIZE = 64

# (len-field + protocol .. serial) -> framed sizes: 78 78 frame = LL + 5, 79 79 frame = LLLL + 6
_SHORT_OVERHEAD = 5
_LONG_OVERHEAD = 6
# protocol(1) + serial(2) + crc(2): the smallest length field a counted frame can carry
_MIN_LENGTH_FIELD = 5


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16_x25(data: bytes) -> int:
    """CRC-16/X.25: poly 0x1021 reflected, init and xorout 0xFFFF (``b"123456789"`` -> 0x906E)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


@dataclass(frozen=True, slots=True)
class Gt06Frame:
    """One complete frame as it came off the wire.

    ``content`` is what lies between the protocol number and the serial. ``serial`` and
    ``crc_ok`` are None for the uncounted Wi-Fi variant, which has neither; otherwise ``crc_ok``
    says whether the CRC matched (Traccar never checks; we flag, count and optionally drop).
    """

    protocol: int
    content: bytes
    serial: int | None
    extended: bool
    crc_ok: bool | None
    raw: bytes


def _counted_frame(raw: bytes, extended: bool) -> Gt06Frame:
    head = 4 if extended else 3
    body = raw[2:-4]  # length field .. serial
    crc_ok = crc16_x25(body) == int.from_bytes(raw[-4:-2], "big")
    return Gt06Frame(
        protocol=raw[head],
        content=raw[head + 1 : -6],
        serial=int.from_bytes(raw[-6:-4], "big"),
        extended=extended,
        crc_ok=crc_ok,
        raw=raw,
    )


def _wifi_frame(raw: bytes) -> Gt06Frame:
    return Gt06Frame(
        protocol=raw[3],
        content=raw[4:-2],
        serial=None,
        extended=False,
        crc_ok=None,
        raw=raw,
    )


class Gt06FrameSplitter:
    """Turns a TCP byte stream into :class:`Gt06Frame` values; one instance per connection.

    * partial reads are buffered until the frame is complete; several frames per read are fine;
    * bytes that cannot start a frame (garbage, or a header whose frame does not end in
      ``0D 0A`` where its length says) are skipped one at a time and counted in
      ``skipped_bytes``, so a good frame right after garbage is still found; the one length
      quirk seen on real devices (length field 2 short) is accepted only with a matching CRC;
    * a declared frame longer than ``max_frame_size`` raises :class:`FrameTooLarge` (the
      buffer is then cleared); the buffer itself never holds more than ``max_frame_size`` bytes;
    * frames whose CRC does not match are counted in ``bad_crc_frames`` and either returned
      flagged (``crc_ok=False``, the default, as Traccar accepts them) or, with
      ``drop_bad_crc=True``, dropped and counted in ``dropped_frames``.
    """

    __slots__ = (
        "_buf",
        "bad_crc_frames",
        "drop_bad_crc",
        "dropped_frames",
        "frames",
        "max_frame_size",
        "short_length_frames",
        "skipped_bytes",
    )

    def __init__(
        self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE, *, drop_bad_crc: bool = False
    ) -> None:
        if max_frame_size < MIN_MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be at least {MIN_MAX_FRAME_SIZE}")
        self.max_frame_size = max_frame_size
        self.drop_bad_crc = drop_bad_crc
        self._buf = bytearray()
        #: bytes discarded while looking for a frame start
        self.skipped_bytes = 0
        #: frames returned by :meth:`feed`
        self.frames = 0
        #: frames whose CRC did not match (returned or dropped)
        self.bad_crc_frames = 0
        #: bad-CRC frames dropped because ``drop_bad_crc`` is set
        self.dropped_frames = 0
        #: frames accepted although their length field is 2 short (CRC-verified quirk)
        self.short_length_frames = 0

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame (never above ``max_frame_size``)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Gt06Frame]:
        """Add ``data`` from the stream; return every frame it completed, in order."""
        frames: list[Gt06Frame] = []
        view = memoryview(data)
        offset = 0
        while True:
            if offset < len(view):
                room = self.max_frame_size - len(self._buf)
                if room <= 0:  # cannot happen with the checks in _extract; a safety net
                    self._fail("buffer full without a complete frame")
                take = min(room, len(view) - offset)
                self._buf += view[offset : offset + take]
                offset += take
            self._extract(frames)
            if offset >= len(view):
                return frames

    def _fail(self, reason: str) -> NoReturn:
        self._buf.clear()
        raise FrameTooLarge(f"GT06 {reason} (max_frame_size={self.max_frame_size})")

    def _skip(self, n: int) -> None:
        del self._buf[:n]
        self.skipped_bytes += n

    def _emit(self, frames: list[Gt06Frame], frame: Gt06Frame) -> None:
        if frame.crc_ok is False:
            self.bad_crc_frames += 1
            if self.drop_bad_crc:
                self.dropped_frames += 1
                return
        self.frames += 1
        frames.append(frame)

    def _extract(self, frames: list[Gt06Frame]) -> None:
        buf = self._buf
        while True:
            if not self._sync():
                return
            # buf starts with a header here
            extended = buf[0] == 0x79
            head = 4 if extended else 3
            if len(buf) < head + 1:
                return
            protocol = buf[head]
            if not extended and protocol in WIFI_UNCOUNTED:
                outcome = self._try_wifi(frames)
                if outcome is None:
                    return
                if outcome:
                    continue
                # not the uncounted layout: fall through to the counted one
            length = int.from_bytes(buf[2:head], "big")
            total = length + (_LONG_OVERHEAD if extended else _SHORT_OVERHEAD)
            if length < _MIN_LENGTH_FIELD:
                self._skip(1)
                continue
            if total > self.max_frame_size:
                self._fail(f"frame declares {total} bytes")
            if len(buf) < total:
                return
            if buf[total - 2 : total] != TRAILER:
                # Some devices declare a length 2 short of the frame they send (Traccar's frame
                # decoder accepts that too); take it only when the CRC proves the longer frame.
                if total + 2 <= self.max_frame_size:
                    if len(buf) < total + 2:
                        return
                    if buf[total : total + 2] == TRAILER:
                        quirk = _counted_frame(bytes(buf[: total + 2]), extended)
                        if quirk.crc_ok:
                            del buf[: total + 2]
                            self.short_length_frames += 1
                            self._emit(frames, quirk)
                            continue
                self._skip(1)
                continue
            raw = bytes(buf[:total])
            del buf[:total]
            self._emit(frames, _counted_frame(raw, extended))

    def _sync(self) -> bool:
        """Drop bytes before the first header; False when no header is buffered yet."""
        buf = self._buf
        starts = [i for i in (buf.find(HEADER_SHORT), buf.find(HEADER_LONG)) if i >= 0]
        if starts:
            first = min(starts)
            if first:
                self._skip(first)
            return True
        # keep a trailing 0x78/0x79: it may be the first half of a header
        keep = 1 if buf and buf[-1] in (0x78, 0x79) else 0
        if len(buf) > keep:
            self._skip(len(buf) - keep)
        return False

    def _try_wifi(self, frames: list[Gt06Frame]) -> bool | None:
        """Handle a ``78 78 N 17|69`` start. None = need more bytes, True = consumed a frame or
        skipped, False = use the counted layout instead."""
        buf = self._buf
        # A counted 0x17/0x69 frame is possible in principle: prefer it when it is complete,
        # ends in 0D 0A and its CRC matches.
        counted_total = buf[2] + _SHORT_OVERHEAD
        if buf[2] >= _MIN_LENGTH_FIELD and len(buf) >= counted_total:
            candidate = bytes(buf[:counted_total])
            if candidate.endswith(TRAILER) and _counted_frame(candidate, False).crc_ok:
                return False
        aps = buf[2]
        cell_count_at = 4 + 6 + 7 * aps
        if cell_count_at + 1 > self.max_frame_size:
            self._fail(f"Wi-Fi frame with {aps} access points")
        if len(buf) < cell_count_at + 1:
            return None
        cells = buf[cell_count_at]
        total = cell_count_at + 1 + 3 + 5 * cells + 2
        if total > self.max_frame_size:
            self._fail(f"Wi-Fi frame declares {total} bytes")
        if len(buf) < total:
            return None
        if buf[total - 2 : total] != TRAILER:
            if buf[2] >= _MIN_LENGTH_FIELD:
                return False  # let the counted layout decide (it waits or skips)
            self._skip(1)
            return True
        raw = bytes(buf[:total])
        del buf[:total]
        self._emit(frames, _wifi_frame(raw))
        return True


def parse_frame(raw: bytes) -> Gt06Frame:
    """Exactly one complete frame from ``raw`` (nothing around it), else :class:`ProtocolError`."""
    splitter = Gt06FrameSplitter(max(len(raw), MIN_MAX_FRAME_SIZE))
    frames = splitter.feed(raw)
    if len(frames) != 1 or splitter.skipped_bytes or splitter.buffered:
        raise ProtocolError(
            f"expected one GT06 frame, got {len(frames)} frame(s), "
            f"{splitter.skipped_bytes} skipped and {splitter.buffered} leftover bytes"
        )
    return frames[0]
