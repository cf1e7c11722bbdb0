"""Property-based tests: whatever the bytes and however they are chunked, the splitter and the
decoder raise nothing but ProtocolError, terminate, and keep the buffer within its bound."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06 import (
    Gt06Frame,
    Gt06FrameSplitter,
    decode,
    encode_ack,
    needs_ack,
)

REAL = [frame_bytes(h) for h in F.ALL]
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes (cycled), the last piece holding the rest."""
    pieces, offset, i = [], 0, 0
    while offset < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        pieces.append(data[offset : offset + size])
        offset += size
        i += 1
    return pieces


def run(data: bytes, sizes: list[int], max_frame_size: int, drop_bad_crc: bool) -> list[Gt06Frame]:
    """Feed ``data`` in chunks and decode every frame; only ProtocolError may escape."""
    splitter = Gt06FrameSplitter(max_frame_size, drop_bad_crc=drop_bad_crc)
    frames: list[Gt06Frame] = []
    for piece in chunked(data, sizes):
        # on ProtocolError a connection would be closed; the splitter stays usable and bounded
        with contextlib.suppress(ProtocolError):
            frames.extend(splitter.feed(piece))
        assert splitter.buffered <= max_frame_size
    for frame in frames:
        assert len(frame.raw) <= max_frame_size
        try:
            message = decode(frame)
        except ProtocolError:
            continue
        if needs_ack(message):
            encode_ack(message)
    return frames


chunk_sizes = st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20)
limits = st.sampled_from([64, 100, 256, 1024, 4096])


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=3000), sizes=chunk_sizes, limit=limits, drop=st.booleans())
def test_random_bytes(data: bytes, sizes: list[int], limit: int, drop: bool) -> None:
    run(data, sizes, limit, drop)


@st.composite
def biased_bytes(draw: st.DrawFn) -> bytes:
    """Random streams rich in header and trailer bytes, which reach the splitter's corners."""
    alphabet = st.sampled_from([0x78, 0x79, 0x0D, 0x0A, 0x00, 0x05, 0xFF, 0x17, 0x69, 0x01])
    parts = draw(
        st.lists(
            st.one_of(
                st.binary(max_size=40),
                st.lists(alphabet, max_size=40).map(bytes),
                st.sampled_from(REAL),
            ),
            max_size=30,
        )
    )
    return b"".join(parts)


@PROPERTY_SETTINGS
@given(data=biased_bytes(), sizes=chunk_sizes, limit=limits, drop=st.booleans())
def test_biased_bytes(data: bytes, sizes: list[int], limit: int, drop: bool) -> None:
    run(data, sizes, limit, drop)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    """Real frames strung together, then bytes flipped, inserted, deleted and duplicated."""
    stream = bytearray(b"".join(draw(st.lists(st.sampled_from(REAL), min_size=1, max_size=8))))
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(min_value=0, max_value=max(len(stream) - 1, 0)))
        if kind == "flip" and stream:
            stream[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "insert":
            stream[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and stream:
            del stream[at : at + draw(st.integers(min_value=1, max_value=8))]
        elif kind == "duplicate" and stream:
            stream[at:at] = stream[at : at + draw(st.integers(min_value=1, max_value=30))]
        elif kind == "truncate":
            del stream[at:]
    return bytes(stream)


@PROPERTY_SETTINGS
@given(data=mutated_frames(), sizes=chunk_sizes, limit=limits, drop=st.booleans())
def test_mutated_real_frames(data: bytes, sizes: list[int], limit: int, drop: bool) -> None:
    run(data, sizes, limit, drop)


garbage_without_headers = st.binary(max_size=50).map(
    lambda b: bytes(x for x in b if x not in (0x78, 0x79))
)


@PROPERTY_SETTINGS
@given(
    frames=st.lists(st.sampled_from(REAL), max_size=12),
    garbage=st.lists(garbage_without_headers, min_size=13, max_size=13),
    sizes=chunk_sizes,
)
def test_valid_frames_survive_any_chunking_and_garbage(
    frames: list[bytes], garbage: list[bytes], sizes: list[int]
) -> None:
    stream = b"".join(g + f for g, f in zip(garbage, frames, strict=False)) + garbage[-1]
    splitter = Gt06FrameSplitter()
    out: list[Gt06Frame] = []
    for piece in chunked(stream, sizes):
        out.extend(splitter.feed(piece))
    assert [f.raw for f in out] == frames
    assert splitter.skipped_bytes == sum(len(g) for g in garbage[: len(frames)]) + len(garbage[-1])
    assert splitter.buffered == 0


@pytest.mark.parametrize("limit", [64, 4096])
def test_a_stream_of_headers_only_terminates_and_stays_bounded(limit: int) -> None:
    # worst case for resynchronisation: every byte could start a frame
    splitter = Gt06FrameSplitter(limit)
    for _ in range(50):
        with contextlib.suppress(ProtocolError):
            assert splitter.feed(b"\x78" * 997) == []
        assert splitter.buffered <= limit
