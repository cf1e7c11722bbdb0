"""Second baseline: the least code that finds GT06 frames in a TCP stream, then decodes them.

:mod:`benchmarks.reference.gt06_struct` starts from frames already cut out of the stream; the
codec does not get them for free. This one also does the framing, minimally: it trusts the
stream (every frame starts where the previous one ended, with ``78 78``), reads the length byte,
carries a partial frame over to the next read, and hands each frame to ``decode_gps_lbs``. No
CRC, no resynchronisation, no bounds.
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.reference.gt06_struct import decode_gps_lbs


def decode_stream(reads: Iterable[bytes]) -> int:
    """Decode every ``78 78`` 0x12/0x22 frame in ``reads``; returns how many."""
    decoded = 0
    pending = b""
    for data in reads:
        buf = pending + data if pending else data
        pos, end = 0, len(buf)
        while pos + 3 <= end:
            stop = pos + buf[pos + 2] + 5  # 78 78 LL ... 0D 0A
            if stop > end:
                break
            decode_gps_lbs(buf[pos:stop])
            decoded += 1
            pos = stop
        pending = buf[pos:]
    return decoded
