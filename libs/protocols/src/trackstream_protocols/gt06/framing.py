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

from binascii import crc_hqx
from dataclasses import dataclass
from typing import NoReturn

from trackstream_protocols.crc import BIT_REVERSED, crc16_x25
from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.native import extension

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


#: byte -> bit-reversed and inverted byte: turns the two CRC bytes of a frame into the
#: ``crc_hqx`` register value they stand for (see :mod:`trackstream_protocols.crc`)
_REVERSED_INVERTED = bytes(b ^ 0xFF for b in BIT_REVERSED)


@dataclass(slots=True)
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


def _crc_matches(raw: bytes) -> bool:
    """Whether the CRC of a counted frame (``raw`` from header to trailer) matches."""
    # crc16_x25(raw[2:-4]) == int.from_bytes(raw[-4:-2], "big"), without reflecting the result
    register = crc_hqx(raw[2:-4].translate(BIT_REVERSED), 0xFFFF)
    return register == (_REVERSED_INVERTED[raw[-3]] << 8 | _REVERSED_INVERTED[raw[-4]])


def _counted_frame(raw: bytes, extended: bool) -> Gt06Frame:
    head = 4 if extended else 3
    return Gt06Frame(
        protocol=raw[head],
        content=raw[head + 1 : -6],
        serial=raw[-6] << 8 | raw[-5],
        extended=extended,
        crc_ok=_crc_matches(raw),
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

    With ``native`` (the default) the common case (:meth:`_scan`) runs in the C extension when
    it is built (:mod:`trackstream_protocols.native`); ``native=False`` runs the Python code,
    the specification the C code is tested against.
    """

    __slots__ = (
        "_buf",
        "_native_scan",
        "bad_crc_frames",
        "drop_bad_crc",
        "dropped_frames",
        "frames",
        "max_frame_size",
        "short_length_frames",
        "skipped_bytes",
    )

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        *,
        drop_bad_crc: bool = False,
        native: bool = True,
    ) -> None:
        if max_frame_size < MIN_MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be at least {MIN_MAX_FRAME_SIZE}")
        self.max_frame_size = max_frame_size
        self.drop_bad_crc = drop_bad_crc
        self._buf = bytearray()
        self._native_scan = extension.gt06_scan if native and extension is not None else None
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

    def feed(self, data: bytes | bytearray | memoryview) -> list[Gt06Frame]:
        """Add ``data`` from the stream; return every frame it completed, in order."""
        frames: list[Gt06Frame] = []
        buf = self._buf
        if buf:
            # The buffer only ever holds undecided bytes (a frame start waiting for the rest), so
            # looking at them again together with the new data decides exactly as before.
            chunk = bytes(buf) + data
            buf.clear()
        else:
            chunk = data if isinstance(data, bytes) else bytes(data)
        offset = self._scan(chunk, frames)
        if offset < len(chunk):
            self._feed_careful(chunk, offset, frames)
        return frames

    def _scan(self, data: bytes, frames: list[Gt06Frame]) -> int:
        """The common case: whole, well-formed counted frames back to back from ``data[0]``.

        Takes frames exactly as :meth:`_extract` would and stops (returning the offset reached)
        at the first thing that needs its care: garbage, a partial frame, an uncounted Wi-Fi
        header, a missing trailer, a length out of bounds.
        """
        native_scan = self._native_scan
        if native_scan is not None:
            pos, returned, bad = native_scan(data, self.max_frame_size, self.drop_bad_crc, frames)
        else:
            pos, returned, bad = self._scan_python(data, frames)
        self.frames += returned
        if bad:
            self.bad_crc_frames += bad
            if self.drop_bad_crc:
                self.dropped_frames += bad
        return pos

    def _scan_python(self, data: bytes, frames: list[Gt06Frame]) -> tuple[int, int, int]:
        """:meth:`_scan` in Python: (offset reached, frames returned, bad-CRC frames)."""
        pos = 0
        end = len(data) - 5  # header, length (1 or 2 bytes), protocol
        limit = self.max_frame_size
        drop_bad_crc = self.drop_bad_crc
        returned = bad = 0
        append = frames.append
        while pos <= end:
            first = data[pos]
            if first == 0x78 and data[pos + 1] == 0x78:
                protocol = data[pos + 3]
                if protocol in WIFI_UNCOUNTED:
                    break
                length = data[pos + 2]
                total = length + _SHORT_OVERHEAD
                head = 4
                extended = False
            elif first == 0x79 and data[pos + 1] == 0x79:
                length = data[pos + 2] << 8 | data[pos + 3]
                total = length + _LONG_OVERHEAD
                protocol = data[pos + 4]
                head = 5
                extended = True
            else:
                break
            stop = pos + total
            if (
                length < _MIN_LENGTH_FIELD
                or total > limit
                or stop > len(data)
                or data[stop - 2] != 0x0D
                or data[stop - 1] != 0x0A
            ):
                break
            raw = data[pos:stop]
            pos = stop
            crc_ok = crc_hqx(raw[2:-4].translate(BIT_REVERSED), 0xFFFF) == (
                _REVERSED_INVERTED[raw[-3]] << 8 | _REVERSED_INVERTED[raw[-4]]
            )
            if not crc_ok:
                bad += 1
                if drop_bad_crc:
                    continue
            returned += 1
            append(Gt06Frame(protocol, raw[head:-6], raw[-6] << 8 | raw[-5], extended, crc_ok, raw))
        return pos, returned, bad

    def _feed_careful(self, data: bytes, offset: int, frames: list[Gt06Frame]) -> None:
        """Buffer ``data[offset:]`` (never more than ``max_frame_size`` at a time), extracting
        frames with resynchronisation, the Wi-Fi layout and the length quirk."""
        end = len(data)
        while True:
            if offset < end:
                room = self.max_frame_size - len(self._buf)
                if room <= 0:  # cannot happen with the checks in _extract; a safety net
                    self._fail("buffer full without a complete frame")
                take = min(room, end - offset)
                self._buf += data[offset : offset + take]
                offset += take
            self._extract(frames)
            if offset >= end:
                return

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
