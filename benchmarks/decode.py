"""GT06 decode throughput: the full codec (splitter with CRC check, decoder, validation,
timezone) against the least-code ``struct`` reference on the same 0x22 frames.

Two baselines: ``baseline`` (the ratio the target applies to) decodes frames already cut out of
the stream (``reference/gt06_struct.py``); ``details["stream_baseline"]`` also finds the frames
in the same 4 KiB reads the codec gets (``reference/gt06_stream.py``), which the codec must do
too, so ``details["stream_ratio"]`` compares like with like.
"""

from __future__ import annotations

from benchmarks.common import Result, best_rates, route_fixes
from benchmarks.reference.gt06_stream import decode_stream
from benchmarks.reference.gt06_struct import decode_gps_lbs
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device

TARGET = 0.5
READ_SIZE = 4096


def frames(count: int) -> list[bytes]:
    return [
        gt06_device.encode_location(fix, serial=i % 65535)
        for i, fix in enumerate(route_fixes(count))
    ]


def run(count: int = 20_000, repeats: int = 7) -> Result:
    data = frames(count)
    stream = b"".join(data)

    def reference() -> int:
        for frame in data:
            decode_gps_lbs(frame)
        return len(data)

    def stream_reference() -> int:
        return decode_stream(
            stream[start : start + READ_SIZE] for start in range(0, len(stream), READ_SIZE)
        )

    def full() -> int:
        # as ingest does it: the stream through the splitter, every frame decoded
        splitter = gt06.Gt06FrameSplitter()
        decoded = 0
        for start in range(0, len(stream), READ_SIZE):
            for frame in splitter.feed(stream[start : start + READ_SIZE]):
                gt06.decode(frame)
                decoded += 1
        return decoded

    assert full() == count == stream_reference(), "every frame must decode"
    baseline, stream_baseline, value = best_rates(
        reference, stream_reference, full, repeats=repeats
    )
    return Result(
        name="gt06 decode",
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


def stream_line(result: Result) -> str:
    """The comparison with the stream-splitting reference, under :meth:`Result.line`."""
    baseline, ratio = result.details["stream_baseline"], result.details["stream_ratio"]
    label = "  vs stream reference"
    return f"{label:32} {'':12} vs {baseline:12,} {result.unit:10} ratio {ratio:5.2f}"


if __name__ == "__main__":
    result = run()
    print(result.line())
    print(stream_line(result))
