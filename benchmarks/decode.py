"""GT06 decode throughput: the full codec (splitter with CRC check, decoder, validation,
timezone) against the least-code ``struct`` reference on the same 0x22 frames."""

from __future__ import annotations

from benchmarks.common import Result, best_rate, route_fixes
from benchmarks.reference.gt06_struct import decode_gps_lbs
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device

TARGET = 0.5


def frames(count: int) -> list[bytes]:
    return [
        gt06_device.encode_location(fix, serial=i % 65535)
        for i, fix in enumerate(route_fixes(count))
    ]


def run(count: int = 20_000, repeats: int = 5) -> Result:
    data = frames(count)
    stream = b"".join(data)

    def reference() -> int:
        for frame in data:
            decode_gps_lbs(frame)
        return len(data)

    def full() -> int:
        # as ingest does it: the stream through the splitter, every frame decoded
        splitter = gt06.Gt06FrameSplitter()
        decoded = 0
        for start in range(0, len(stream), 4096):
            for frame in splitter.feed(stream[start : start + 4096]):
                gt06.decode(frame)
                decoded += 1
        return decoded

    assert full() == count, "every frame must decode"
    baseline = best_rate(reference, repeats)
    value = best_rate(full, repeats)
    return Result(
        name="gt06 decode",
        value=value,
        baseline=baseline,
        unit="frames/s",
        ratio=value / baseline,
        target=TARGET,
        details={"frames": count},
    )


if __name__ == "__main__":
    print(run().line())
