"""JT/T 808 decode throughput: the full codec (splitter with un-escaping and check byte, header,
0x0200 body with its additional items, timezone) against the least-code ``struct`` reference on
the same 0x0200 frames.

As in :mod:`benchmarks.decode`, ``baseline`` decodes frames already cut out of the stream
(``reference/jt808_struct.py``: ``decode_location``) and ``details["stream_baseline"]`` also
finds them in the same 4 KiB reads (``decode_stream``).
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.common import Result, compare_decoders, route_fixes, stream_line
from benchmarks.reference.jt808_struct import decode_location, decode_stream
from trackstream_protocols import jt808
from trackstream_protocols.jt808 import device as jt808_device

TERMINAL = jt808.Jt808Address.from_phone("13912345678")


def frames(count: int) -> list[bytes]:
    """0x0200 reports as a 2013 terminal sends them: mileage, signal and satellites items."""
    return [
        jt808_device.encode_location(
            TERMINAL, i % 65535, fix, ignition=True, mileage_m=1_000 * i, rssi=20 + i % 10
        )
        for i, fix in enumerate(route_fixes(count))
    ]


def codec(reads: Iterable[bytes]) -> int:
    """As ingest does it: the stream through the splitter, every frame decoded."""
    splitter = jt808.Jt808FrameSplitter(keep_bad_checksum=True)
    decoder, decoded = jt808.Jt808Decoder(), 0
    for data in reads:
        for frame in splitter.feed(data):
            decoder.decode(frame)
            decoded += 1
    return decoded


def run(count: int = 20_000, repeats: int = 7) -> Result:
    return compare_decoders(
        "jt808 decode",
        frames(count),
        reference=decode_location,
        stream_reference=decode_stream,
        codec=codec,
        repeats=repeats,
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print(stream_line(result))
