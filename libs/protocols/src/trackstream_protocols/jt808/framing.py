"""JT/T 808 framing: 0x7E delimiters, 0x7D escaping, XOR check byte, and the stream splitter.

On the wire a frame is ``7E <escaped(header + body + check)> 7E``. Inside, ``7E`` is sent as
``7D 02`` and ``7D`` as ``7D 01``; the check byte is the XOR of every un-escaped byte of header
and body. Traccar never verifies it (docs/protocols.md §5, §9.1); we do, and count the failures.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackstream_protocols.crc import xor_checksum
from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.native import extension

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "FLAG",
    "MIN_CONTENT_SIZE",
    "Jt808Frame",
    "Jt808FrameSplitter",
    "Jt808FrameTooLarge",
    "escape",
    "unescape",
    "xor_checksum",
]

FLAG = 0x7E
ESCAPE = 0x7D
#: smallest un-escaped header: id (2) + properties (2) + 6-byte phone + serial (2)
MIN_CONTENT_SIZE = 12
#: the body length field has 10 bits, so a standard frame is at most
#: 2 * (21-byte 2019 sub-package header + 1023 + 1) = 2090 escaped bytes; leave room for vendors
DEFAULT_MAX_FRAME_SIZE = 4096

_FLAG_BYTE = b"\x7e"
_ESCAPE_BYTE = b"\x7d"
_ESCAPED_ESCAPE = b"\x7d\x01"
_ESCAPED_FLAG = b"\x7d\x02"


def escape(data: bytes) -> bytes:
    """``data`` with 0x7D sent as ``7D 01`` and 0x7E as ``7D 02`` (order matters)."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """Reverse :func:`escape`; a 0x7D not followed by 01/02 is a :class:`ProtocolError`."""
    escapes = data.count(ESCAPE)
    if not escapes:
        return data
    # 7D 01 and 7D 02 cannot overlap, so every 0x7D starts one of them exactly when the counts add
    # up; then 7D 02 -> 7E first and 7D 01 -> 7D second only ever replace escape pairs
    if escapes != data.count(_ESCAPED_ESCAPE) + data.count(_ESCAPED_FLAG):
        raise ProtocolError("bad escape: 0x7D must be followed by 0x01 or 0x02")
    return bytes(data.replace(_ESCAPED_FLAG, _FLAG_BYTE).replace(_ESCAPED_ESCAPE, _ESCAPE_BYTE))


@dataclass(slots=True)
class Jt808Frame:
    """One frame as cut from the stream: un-escaped header + body, and its check byte."""

    #: un-escaped bytes between the delimiters, without the check byte
    content: bytes
    #: the check byte as received
    checksum: int
    #: whether ``checksum`` equals the XOR of ``content``
    checksum_ok: bool

    @classmethod
    def from_unescaped(cls, data: bytes) -> Jt808Frame:
        """A frame from already un-escaped ``header + body + check byte`` (no delimiters).

        This is what Traccar's decoder tests feed the protocol decoder directly.
        """
        if len(data) < MIN_CONTENT_SIZE + 1:
            raise ProtocolError(f"frame of {len(data)} bytes is shorter than a header")
        content, check = data[:-1], data[-1]
        return cls(content, check, xor_checksum(content) == check)

    @classmethod
    def from_wire(cls, data: bytes) -> Jt808Frame:
        """A frame from exactly one escaped ``7E ... 7E`` frame."""
        if len(data) < 2 or data[0] != FLAG or data[-1] != FLAG:
            raise ProtocolError("a JT/T 808 frame starts and ends with 0x7E")
        inner = data[1:-1]
        if FLAG in inner:
            raise ProtocolError("unescaped 0x7E inside a frame")
        return cls.from_unescaped(unescape(inner))


class Jt808FrameTooLarge(FrameTooLarge):
    """Raised by :meth:`Jt808FrameSplitter.feed` when a frame outgrew ``max_frame_size``.

    The oversized bytes were discarded; every good frame found in the same call is in
    :attr:`frames`, and the splitter stays usable.
    """

    def __init__(self, message: str, frames: list[Jt808Frame]) -> None:
        super().__init__(message)
        self.frames = frames


class Jt808FrameSplitter:
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

    With ``native`` (the default) the common case, whole frames between two 0x7E of one read,
    runs in the C extension when it is built (:mod:`trackstream_protocols.native`);
    ``native=False`` runs the Python code, the specification the C code is tested against.
    """

    def __init__(
        self,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        *,
        keep_bad_checksum: bool = False,
        native: bool = True,
    ) -> None:
        if max_frame_size < MIN_CONTENT_SIZE + 1:
            raise ProtocolError(f"max_frame_size must be at least {MIN_CONTENT_SIZE + 1}")
        self.max_frame_size = max_frame_size
        self.keep_bad_checksum = keep_bad_checksum
        self._native_split = extension.jt808_split if native and extension is not None else None
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

    def feed(self, data: bytes | bytearray | memoryview) -> list[Jt808Frame]:
        """Add bytes from the stream; return the frames they complete, in order."""
        frames: list[Jt808Frame] = []
        data = data if isinstance(data, bytes) else bytes(data)  # frames hold bytes
        oversized = False
        buffer = self._buffer
        max_size = self.max_frame_size
        native_split = self._native_split
        pos, end = 0, len(data)
        while pos < end:
            if native_split is not None and self._synced and not self._discarding and not buffer:
                # the common case below, every whole frame up to the last 0x7E of data, in C
                pos, garbage, bad, too_large = native_split(
                    data, pos, max_size, self.keep_bad_checksum, frames
                )
                self.garbage_bytes += garbage
                self.bad_checksum_frames += bad
                if too_large:
                    self.oversized_frames += too_large
                    oversized = True
                if pos >= end:
                    break
                # what is left holds no 0x7E: it is buffered below
            flag_at = data.find(FLAG, pos)
            if flag_at >= 0 and self._synced and not self._discarding and not buffer:
                # the common case: a whole frame between two flags of this read, no copying
                if flag_at - pos > max_size:
                    self.garbage_bytes += flag_at - pos
                    self.oversized_frames += 1
                    oversized = True
                elif flag_at > pos:
                    frame = self._candidate(data[pos:flag_at])
                    if frame is not None:
                        frames.append(frame)
                pos = flag_at + 1
                continue
            chunk_end = end if flag_at < 0 else flag_at
            chunk = data[pos:chunk_end]
            pos = chunk_end if flag_at < 0 else flag_at + 1
            if not self._synced or self._discarding:
                self.garbage_bytes += len(chunk)
            elif len(buffer) + len(chunk) > max_size:
                self.garbage_bytes += len(buffer) + len(chunk)
                self.oversized_frames += 1
                buffer.clear()
                self._discarding = True
                oversized = True
            else:
                buffer += chunk
            if flag_at < 0:
                break
            # a boundary: close the current candidate and start a new one
            if self._synced and not self._discarding:
                frame = self._candidate(bytes(buffer))
                if frame is not None:
                    frames.append(frame)
            buffer.clear()
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
            data = unescape(escaped)
        except ProtocolError:
            self.garbage_bytes += len(escaped)
            return None
        if len(data) < MIN_CONTENT_SIZE + 1:  # what Jt808Frame.from_unescaped rejects
            self.garbage_bytes += len(escaped)
            return None
        # the XOR of content and check byte is 0 exactly when the check byte matches
        checksum_ok = not xor_checksum(data)
        if not checksum_ok:
            self.bad_checksum_frames += 1
            if not self.keep_bad_checksum:
                return None
        return Jt808Frame(data[:-1], data[-1], checksum_ok)
