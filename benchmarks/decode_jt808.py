"""JT/T 808 decode throughput: the full codec (splitter with un-escaping and check byte, header,
0x0200 body with its additional items, timezone) against the least-code ``struct`` reference on
the same 0x0200 frames.

As in :mod:`benchmarks.decode`, ``baseline`` decodes frames already cut out of the stream
(``reference/jt808_struct.py``: ``decode_location``) and ``details["stream_baseline"]`` also
finds them in the same 4 KiB reads (``decode_stream``).
"""

from __future__ import annotations

from benchmarks.common import Result, best_rates, route_fixes
from benchmarks.decode import READ_SIZE, stream_line
from benchmarks.reference.jt808_struct import decode_location, decode_stream
from trackstream_protocols import jt808
from trackstream_protocols.jt808 import device as jt808_device

TARGET = 0.5
TERMINAL = jt808.Jt808Address.from_phone("13912345678")


def frames(count: int) -> list[bytes]:
    """0x0200 reports as a 2013 terminal sends them: mileage, signal and satellites items."""
    return [
        jt808_device.encode_location(
            TERMINAL, i % 65535, fix, ignition=True, mileage_m=1_000 * i, rssi=20 + i % 10
        )
        for i, fix in enumerate(route_fixes(count))
    ]


def run(count: int = 20_000, repeats: int = 7) -> Result:
    data = frames(count)
    stream = b"".join(data)

    def reference() -> int:
        for frame in data:
            decode_location(frame)
        return len(data)

    def stream_reference() -> int:
        return decode_stream(
            stream[start : start + READ_SIZE] for start in range(0, len(stream), READ_SIZE)
        )

    def full() -> int:
        # as ingest does it: the stream through the splitter, every frame decoded
        splitter = jt808.Jt808FrameSplitter(keep_bad_checksum=True)
        decoder = jt808.Jt808Decoder()
        decoded = 0
        for start in range(0, len(stream), READ_SIZE):
            for frame in splitter.feed(stream[start : start + READ_SIZE]):
                decoder.decode(frame)
                decoded += 1
        return decoded

    assert full() == count == stream_reference(), "every frame must decode"
    baseline, stream_baseline, value = best_rates(
        reference, stream_reference, full, repeats=repeats
    )
    return Result(
        name="jt808 decode",
        value=value,
        baseline=baseline,
        unit="frames/s",
        ratio=value / baseline,
        target=TARGET,
        details={
            "frames": count,
            "stream_baseline": round(stream_baseline),
            "stream_ratio": round(value / stream_baseline, 3),
        },
    )


if __name__ == "__main__":
    result = run()
    print(result.line())
    print(stream_line(result))
