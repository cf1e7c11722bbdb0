"""GT06 decode throughput: the full codec (splitter with CRC check, decoder, validation,
timezone) against the least-code ``struct`` reference on the same 0x22 frames.

Two baselines: ``baseline`` (the ratio the target applies to) decodes frames already cut out of
the stream (``reference/gt06_struct.py``); ``details["stream_baseline"]`` also finds the frames
in the same 4 KiB reads the codec gets (``reference/gt06_stream.py``), which the codec must do
too, so ``details["stream_ratio"]`` compares like with like.
"""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.common import Result, compare_decoders, route_fixes, stream_line
from benchmarks.reference.gt06_stream import decode_stream
from benchmarks.reference.gt06_struct import decode_gps_lbs
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device


def frames(count: int) -> list[bytes]:
    return [
        gt06_device.encode_location(fix, serial=i % 65535)
        for i, fix in enumerate(route_fixes(count))
    ]


def codec(reads: Iterable[bytes]) -> int:
    """As ingest does it: the stream through the splitter, every frame decoded."""
    splitter, decoded = gt06.Gt06FrameSplitter(), 0
    for data in reads:
        for frame in splitter.feed(data):
            gt06.decode(frame)
            decoded += 1
    return decoded


def run(count: int = 20_000, repeats: int = 7) -> Result:
    return compare_decoders(
        "gt06 decode",
        frames(count),
        reference=decode_gps_lbs,
        stream_reference=decode_stream,
        codec=codec,
        repeats=repeats,
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print(stream_line(result))
