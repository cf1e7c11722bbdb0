"""The stream-splitting benchmark baselines find every frame, whatever the read size."""

from __future__ import annotations

import pytest

from benchmarks.reference import gt06_stream, jt808_struct
from libs.protocols.tests.generated_frames import gt06_locations, jt808_locations


def reads(stream: bytes, size: int) -> list[bytes]:
    return [stream[start : start + size] for start in range(0, len(stream), size)]


@pytest.mark.parametrize("size", [1, 7, 39, 55, 4096])
def test_gt06_stream_reference_decodes_every_frame(size: int) -> None:
    frames = gt06_locations(300)
    assert gt06_stream.decode_stream(reads(b"".join(frames), size)) == len(frames)


@pytest.mark.parametrize("size", [1, 7, 39, 55, 4096])
def test_jt808_stream_reference_decodes_every_frame(size: int) -> None:
    frames = jt808_locations(300)
    assert jt808_struct.decode_stream(reads(b"".join(frames), size)) == len(frames)
