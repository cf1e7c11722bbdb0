"""Property tests: arbitrary and mutated byte streams never break the JT/T 808 codec's contract.

Contract: splitter, decoder and reassembler raise nothing but ProtocolError, always return,
and keep their buffers within the configured bounds.
"""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests import jt808_frames as F
from trackstream_protocols import ProtocolError
from trackstream_protocols.jt808 import (
    Jt808Address,
    Jt808Decoder,
    Jt808FrameSplitter,
    Jt808FrameTooLarge,
    Jt808Header,
    Jt808Reassembler,
    SubPackage,
    encode_frame,
    escape,
    parse_header,
    positions,
    unescape,
)

MAX_FRAME = 600

VALID_FRAMES = [
    F.raw(frame)
    for frame in (
        F.HEARTBEAT,
        F.LOGOUT,
        F.REGISTER_2013,
        F.REGISTER_2019,
        F.AUTH_2019,
        F.TERMINAL_RESPONSE_BSJ,
        F.LOCATION_EB_BATTERY,
        F.LOCATION_2019,
        F.LOCATION_RTVS,
        F.BATCH_BLIND_SAT14,
        F.BATCH_NORMAL_2019,
        F.MULTIMEDIA_EVENT_2019,
        F.MULTIMEDIA_DATA_2019,
        F.SNAP_RESPONSE_2013,
        F.LOCATION_2014_BAD,
        F.JC371_ALARM_LABEL,
    )
] + [F.raw(p) for p in F.demo5_jpeg_packages()[:2]]


def run_stream(chunks: list[bytes], *, keep_bad_checksum: bool, strict: bool) -> None:
    """Feed ``chunks``; decode and reassemble everything; only ProtocolError may escape."""
    splitter = Jt808FrameSplitter(MAX_FRAME, keep_bad_checksum=keep_bad_checksum)
    decoder = Jt808Decoder(strict_body_length=strict, strict_additional_items=strict)
    reassembler = Jt808Reassembler(max_pending=4, max_total_bytes=4096)
    for clock, chunk in enumerate(chunks):
        try:
            frames = splitter.feed(chunk)
        except Jt808FrameTooLarge as too_large:
            frames = too_large.frames
        assert splitter.buffered <= MAX_FRAME
        for frame in frames:
            try:
                packet = decoder.decode(frame)
                for fix in positions(packet.message):
                    assert fix.fix_time.tzinfo is not None
                if isinstance(packet.message, SubPackage):
                    whole = reassembler.add(packet.header, packet.message.data, now=float(clock))
                    if whole is not None:
                        decoder.decode_body(whole.header, whole.body)
            except ProtocolError:
                pass
            assert reassembler.pending_count <= 4
            assert reassembler.pending_bytes <= 4096


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos = [], 0
    for size in sizes:
        if pos >= len(data):
            break
        out.append(data[pos : pos + size])
        pos += size
    if pos < len(data):
        out.append(data[pos:])
    return out


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=3000),
    keep=st.booleans(),
    strict=st.booleans(),
)
def test_random_bytes_only_raise_protocol_errors(data: bytes, keep: bool, strict: bool) -> None:
    run_stream([data], keep_bad_checksum=keep, strict=strict)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from([b"\x7e", b"\x7d", b"\x7e\x7e", b"\x7d\x02", b"\x7d\x01"]),
        ),
        max_size=60,
    ),
    keep=st.booleans(),
)
def test_delimiter_heavy_streams_only_raise_protocol_errors(parts: list[bytes], keep: bool) -> None:
    run_stream(parts, keep_bad_checksum=keep, strict=False)


@st.composite
def mutated_stream(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    frames = draw(st.lists(st.sampled_from(VALID_FRAMES), min_size=1, max_size=6))
    stream = bytearray(b"".join(frames))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if not stream:
            break
        at = draw(st.integers(0, len(stream) - 1))
        if kind == "flip":
            stream[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            stream[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del stream[at : at + draw(st.integers(1, 8))]
        else:
            del stream[at:]
    sizes = draw(st.lists(st.integers(1, 97), max_size=80))
    return bytes(stream), sizes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated_stream(), keep=st.booleans(), strict=st.booleans())
def test_mutated_real_frames_in_random_chunks_only_raise_protocol_errors(
    case: tuple[bytes, list[int]], keep: bool, strict: bool
) -> None:
    stream, sizes = case
    run_stream(chunked(stream, sizes), keep_bad_checksum=keep, strict=strict)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.sampled_from(VALID_FRAMES[:14]), min_size=1, max_size=5),
    sizes=st.lists(st.integers(1, 50), max_size=100),
)
def test_unmutated_frames_split_identically_whatever_the_chunking(
    frames: list[bytes], sizes: list[int]
) -> None:
    stream = b"".join(frames)
    whole = Jt808FrameSplitter(keep_bad_checksum=True).feed(stream)
    splitter = Jt808FrameSplitter(keep_bad_checksum=True)
    pieces = [f for chunk in chunked(stream, sizes) for f in splitter.feed(chunk)]
    assert pieces == whole
    assert len(whole) == len(frames)


@given(st.binary(max_size=500))
def test_escape_roundtrip(data: bytes) -> None:
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@settings(max_examples=200, deadline=None)
@given(
    msg_id=st.integers(0, 0xFFFF),
    serial=st.integers(0, 0xFFFF),
    body=st.binary(max_size=1023),
    version=st.one_of(st.none(), st.integers(0, 255)),
    phone=st.text("0123456789", min_size=1, max_size=12),
)
def test_any_encoded_frame_splits_back_intact(
    msg_id: int, serial: int, body: bytes, version: int | None, phone: str
) -> None:
    to = Jt808Address.from_phone(phone, protocol_version=version)
    (frame,) = Jt808FrameSplitter(4096).feed(encode_frame(to, msg_id, serial, body))
    assert frame.checksum_ok
    header, decoded_body = parse_header(frame.content)
    assert (header.msg_id, header.serial, decoded_body) == (msg_id, serial, body)
    assert header.body_length == len(body)
    assert header.phone_bcd == to.phone_bcd
    assert header.protocol_version == version


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.integers(0, 3),  # phone
            st.integers(0, 0xFFFF),  # serial
            st.integers(1, 12),  # total
            st.integers(1, 12),  # index
            st.integers(0, 400),  # size
            st.floats(0, 50),  # clock step
        ),
        max_size=80,
    )
)
def test_reassembler_never_exceeds_its_bounds(
    ops: list[tuple[int, int, int, int, int, float]],
) -> None:
    reassembler = Jt808Reassembler(max_pending=3, max_total_bytes=2000, max_age=60)
    now = 0.0
    for phone, serial, total, index, size, step in ops:
        now += step
        header = Jt808Header(
            0x0801, size, 0, False, None, bytes([phone] * 6), serial, total, min(index, total)
        )
        with contextlib.suppress(ProtocolError):
            reassembler.add(header, bytes(size), now=now)
        assert reassembler.pending_count <= 3
        assert reassembler.pending_bytes <= 2000
        assert reassembler.pending_bytes == sum(p.buffered_bytes for p in reassembler.pending())
