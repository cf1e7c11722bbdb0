"""The codecs' previous, straightforward implementations, kept as oracles for the fast paths.

test_codec_fast_paths.py checks that the optimised splitters, checksums and decoders behave
exactly like these: same frames, same counters, same errors. Copied from the modules before the
throughput work (only renamed, and wired to the current value types and item helpers).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import reduce
from operator import xor
from typing import NoReturn

from trackstream_protocols.bcd import is_bcd
from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.gt06.framing import (
    _LONG_OVERHEAD,
    _MIN_LENGTH_FIELD,
    _SHORT_OVERHEAD,
    DEFAULT_MAX_FRAME_SIZE,
    HEADER_LONG,
    HEADER_SHORT,
    MIN_MAX_FRAME_SIZE,
    TRAILER,
    WIFI_UNCOUNTED,
    Gt06Frame,
)
from trackstream_protocols.jt808.framing import (
    DEFAULT_MAX_FRAME_SIZE as JT808_DEFAULT_MAX_FRAME_SIZE,
)
from trackstream_protocols.jt808.framing import (
    ESCAPE,
    FLAG,
    MIN_CONTENT_SIZE,
    Jt808Frame,
    Jt808FrameTooLarge,
)
from trackstream_protocols.jt808.location import (
    _ALARM_BITS,
    _STATUS_IGNITION,
    _STATUS_OIL_CUT,
    _STATUS_SOUTH,
    _STATUS_VALID,
    _STATUS_WEST,
    CHINA_STANDARD_TIME,
    _standard_item,
    _vendor_item,
)
from trackstream_protocols.jt808.messages import AdditionalInfo, Location
from trackstream_protocols.model import Fix
from trackstream_protocols.reader import ByteReader

_ESCAPE_BYTE = b"\x7d"

# --- GT06 ------------------------------------------------------------------------------------


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16_x25_table(data: bytes) -> int:
    """CRC-16/X.25: poly 0x1021 reflected, init and xorout 0xFFFF (``b"123456789"`` -> 0x906E)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def _counted_frame(raw: bytes, extended: bool) -> Gt06Frame:
    head = 4 if extended else 3
    body = raw[2:-4]  # length field .. serial
    crc_ok = crc16_x25_table(body) == int.from_bytes(raw[-4:-2], "big")
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


class OldGt06FrameSplitter:
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


# --- JT/T 808 --------------------------------------------------------------------------------


def xor_reduce(data: bytes) -> int:
    return reduce(xor, data, 0)


def old_from_unescaped(data: bytes) -> Jt808Frame:
    if len(data) < MIN_CONTENT_SIZE + 1:
        raise ProtocolError(f"frame of {len(data)} bytes is shorter than a header")
    content, check = data[:-1], data[-1]
    return Jt808Frame(content, check, xor_reduce(content) == check)


def old_unescape(data: bytes) -> bytes:
    """Reverse :func:`escape`; a 0x7D not followed by 01/02 is a :class:`ProtocolError`."""
    if ESCAPE not in data:
        return data
    parts = data.split(_ESCAPE_BYTE)
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part or part[0] not in (0x01, 0x02):
            raise ProtocolError("bad escape: 0x7D must be followed by 0x01 or 0x02")
        out.append(ESCAPE if part[0] == 0x01 else FLAG)
        out += part[1:]
    return bytes(out)


class OldJt808FrameSplitter:
    """Turns a TCP byte stream into :class:`Jt808Frame` values.

    Every 0x7E is a boundary; what lies between two of them is a candidate frame. Empty
    candidates (``7E 7E``: the end of one frame and the start of the next) are skipped.
    Bytes before the first 0x7E, candidates with a bad escape and candidates shorter than a
    header are garbage: skipped and counted in :attr:`garbage_bytes`. A candidate with a
    wrong check byte is counted in :attr:`bad_checksum_frames` and, depending on
    ``keep_bad_checksum``, returned with ``checksum_ok=False`` or dropped.

    Memory is bounded: at most ``max_frame_size`` escaped bytes are buffered. A frame that
    grows past it is discarded up to the next 0x7E and reported by raising
    :class:`Jt808FrameTooLarge` at the end of that :meth:`feed` call.
    """

    def __init__(
        self,
        max_frame_size: int = JT808_DEFAULT_MAX_FRAME_SIZE,
        *,
        keep_bad_checksum: bool = False,
    ) -> None:
        if max_frame_size < MIN_CONTENT_SIZE + 1:
            raise ProtocolError(f"max_frame_size must be at least {MIN_CONTENT_SIZE + 1}")
        self.max_frame_size = max_frame_size
        self.keep_bad_checksum = keep_bad_checksum
        self._buffer = bytearray()
        self._synced = False  # a 0x7E has been seen, so the buffer holds a frame's start
        self._discarding = False  # skipping an oversized frame until the next 0x7E
        #: bytes skipped as not belonging to any frame (including oversized frames)
        self.garbage_bytes = 0
        #: frames whose check byte was wrong (kept or dropped, see ``keep_bad_checksum``)
        self.bad_checksum_frames = 0
        #: frames discarded for growing past ``max_frame_size``
        self.oversized_frames = 0
        #: frames returned so far
        self.frames_returned = 0

    @property
    def buffered(self) -> int:
        """Escaped bytes held while waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Jt808Frame]:
        """Add bytes from the stream; return the frames they complete, in order."""
        frames: list[Jt808Frame] = []
        oversized = False
        pos, end = 0, len(data)
        while pos < end:
            flag_at = data.find(FLAG, pos)
            chunk_end = end if flag_at < 0 else flag_at
            chunk = data[pos:chunk_end]
            pos = chunk_end if flag_at < 0 else flag_at + 1
            if not self._synced or self._discarding:
                self.garbage_bytes += len(chunk)
            elif len(self._buffer) + len(chunk) > self.max_frame_size:
                self.garbage_bytes += len(self._buffer) + len(chunk)
                self.oversized_frames += 1
                self._buffer.clear()
                self._discarding = True
                oversized = True
            else:
                self._buffer += chunk
            if flag_at < 0:
                break
            # a boundary: close the current candidate and start a new one
            if self._synced and not self._discarding:
                frame = self._candidate(bytes(self._buffer))
                if frame is not None:
                    frames.append(frame)
            self._buffer.clear()
            self._synced = True
            self._discarding = False
        self.frames_returned += len(frames)
        if oversized:
            raise Jt808FrameTooLarge(
                f"frame longer than {self.max_frame_size} bytes discarded", frames
            )
        return frames

    def _candidate(self, escaped: bytes) -> Jt808Frame | None:
        if not escaped:
            return None
        try:
            frame = old_from_unescaped(old_unescape(escaped))
        except ProtocolError:
            self.garbage_bytes += len(escaped)
            return None
        if not frame.checksum_ok:
            self.bad_checksum_frames += 1
            if not self.keep_bad_checksum:
                return None
        return frame


def alarm_names(flags: int) -> list[str]:
    """Traccar alarm names for the bits set in a 0x0200 alarm DWORD (no duplicates)."""
    names: list[str] = []
    for bit, name in _ALARM_BITS:
        if flags >> bit & 1 and name not in names:
            names.append(name)
    return names


def old_decode_time(raw: bytes, tz: tzinfo) -> datetime:
    """BCD ``YYMMDDhhmmss`` in ``tz`` -> an aware UTC datetime."""
    if len(raw) != 6 or not is_bcd(raw):
        raise ProtocolError(f"time {raw.hex()} is not 6 BCD bytes")
    digits = raw.hex()
    yy, mo, dd, hh, mi, ss = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    try:
        local = datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=tz)
    except ValueError as exc:
        raise ProtocolError(f"time {digits} is not a valid date") from exc
    return local.astimezone(UTC)


def old_decode_location(
    data: bytes,
    *,
    tz: tzinfo = CHINA_STANDARD_TIME,
    jimi_extensions: bool = True,
    archive: bool = False,
    strict_items: bool = False,
    what: str = "0x0200 location",
) -> Location:
    """Decode a location block (basic information + additional items) into a :class:`Location`.

    ``archive`` marks a position re-uploaded from the terminal's blind-area store. A truncated
    basic block raises :class:`ProtocolError`; bytes after the last whole additional item
    (some terminals append fixed vendor tails) are kept in ``Location.trailing``, or raise
    when ``strict_items`` is set.
    """
    r = ByteReader(data, what)
    alarm = r.u32()
    status = r.u32()
    lat_raw, lon_raw = r.u32(), r.u32()
    altitude_raw, speed_raw, course = r.u16(), r.u16(), r.u16()
    fix_time = old_decode_time(r.read(6), tz)

    attrs: dict[str, object] = {}
    alarms: list[str] = []
    attrs["status"] = status
    attrs["ignition"] = bool(status & _STATUS_IGNITION)
    attrs["blocked"] = bool(status & _STATUS_OIL_CUT)
    alarms.extend(alarm_names(alarm))

    extras: list[AdditionalInfo] = []
    unknown: list[AdditionalInfo] = []
    trailing = b""
    while r.remaining:
        head = r.peek(2)
        if len(head) < 2 or head[1] > r.remaining - 2:
            trailing = r.rest()
            if strict_items:
                raise ProtocolError(
                    f"{what}: truncated additional item, {len(trailing)} bytes left "
                    f"({trailing[:8].hex()}...)"
                )
            break
        item_id, length = r.u8(), r.u8()
        info = AdditionalInfo(item_id, r.read(length))
        extras.append(info)
        decoded = _standard_item(item_id, info.value, attrs) or (
            jimi_extensions and _vendor_item(item_id, info.value, attrs, alarms)
        )
        if not decoded:
            unknown.append(info)

    if alarms:
        attrs["alarm"] = ",".join(dict.fromkeys(alarms))
    if archive:
        attrs["archive"] = True
    latitude = lat_raw / 1e6 * (-1 if status & _STATUS_SOUTH else 1)
    longitude = lon_raw / 1e6 * (-1 if status & _STATUS_WEST else 1)
    altitude = -(altitude_raw & 0x7FFF) if altitude_raw & 0x8000 else altitude_raw
    satellites = attrs.get("sat")
    fix = Fix(
        fix_time=fix_time,
        latitude=latitude,
        longitude=longitude,
        speed_kmh=speed_raw / 10.0,
        course_deg=float(course),
        valid=bool(status & _STATUS_VALID),
        satellites=satellites if isinstance(satellites, int) else None,
        altitude_m=float(altitude),
        attributes=attrs,
    )
    return Location(fix, alarm, status, tuple(extras), tuple(unknown), trailing)
