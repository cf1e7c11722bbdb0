"""The fast paths behave exactly like the straightforward code they replaced or fall back to.

Oracles: slow_reference.py (the implementations before the throughput work) for checksums,
splitters, un-escaping and the 0x0200 block; for the GT06 decoder, its own careful
ByteReader-based handlers, which the struct-based fast handlers fall back to.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.protocols.tests import gt06_frames as G
from libs.protocols.tests import jt808_frames as J
from libs.protocols.tests import slow_reference as old
from libs.protocols.tests.generated_frames import gt06_locations, jt808_locations
from libs.protocols.tests.gt06_frames import frame_bytes
from trackstream_protocols.crc import BIT_REVERSED, crc16_x25, crc16_x25_register, xor_checksum
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06 import Gt06Frame, Gt06FrameSplitter, parse_frame
from trackstream_protocols.gt06 import decoder as gt06_decoder
from trackstream_protocols.jt808 import Jt808Frame, Jt808FrameSplitter, unescape
from trackstream_protocols.jt808.header import parse_header
from trackstream_protocols.jt808.location import decode_location, decode_time
from trackstream_protocols.reader import ByteReader

T = TypeVar("T")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=8), "GMT+8"),
    timezone(-timedelta(hours=5, minutes=30)),
    timezone(timedelta(0), "GMT"),
    ZoneInfo("America/Sao_Paulo"),
    ZoneInfo("Asia/Kathmandu"),
]
zones = st.sampled_from(ZONES)


def outcome(call: Callable[..., T], *args: object, **kwargs: object) -> T | tuple[str, str]:
    """``call(*args, **kwargs)``, or the error's type and message, so both can be compared."""
    try:
        return call(*args, **kwargs)
    except ProtocolError as exc:
        return (type(exc).__name__, str(exc))


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    pieces, offset, i = [], 0, 0
    while offset < len(data):
        size = sizes[i % len(sizes)] if sizes else len(data)
        pieces.append(data[offset : offset + size])
        offset += size
        i += 1
    return pieces


def mutate(draw: st.DrawFn, stream: bytearray, max_edits: int = 10) -> bytes:
    for _ in range(draw(st.integers(0, max_edits))):
        if not stream:
            break
        kind = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(stream) - 1))
        if kind == "flip":
            stream[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            stream[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del stream[at : at + draw(st.integers(1, 8))]
        elif kind == "duplicate":
            stream[at:at] = stream[at : at + draw(st.integers(1, 30))]
        else:
            del stream[at:]
    return bytes(stream)


# --- checksums -------------------------------------------------------------------------------


def test_crc16_x25_check_value_and_empty_input() -> None:
    assert crc16_x25(b"123456789") == 0x906E == old.crc16_x25_table(b"123456789")
    assert crc16_x25(b"") == 0x0000


def test_bit_reversal_table() -> None:
    assert BIT_REVERSED[0x01] == 0x80 and BIT_REVERSED[0x0F] == 0xF0 and BIT_REVERSED[0xB4] == 0x2D
    assert all(BIT_REVERSED[BIT_REVERSED[b]] == b for b in range(256))


@SETTINGS
@given(st.binary(max_size=2000))
def test_crc16_x25_equals_the_table_implementation(data: bytes) -> None:
    assert crc16_x25(data) == old.crc16_x25_table(data)
    register = crc16_x25_register(data.translate(BIT_REVERSED))
    reflected = BIT_REVERSED[register & 0xFF] << 8 | BIT_REVERSED[register >> 8]
    assert reflected ^ 0xFFFF == crc16_x25(data)


@SETTINGS
@given(st.binary(max_size=3000))
def test_xor_checksum_equals_reduce(data: bytes) -> None:
    assert xor_checksum(data) == old.xor_reduce(data)


def test_xor_checksum_around_the_folding_threshold() -> None:
    for size in [*range(0, 80), 127, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4096]:
        for _ in range(5):
            data = os.urandom(size)
            assert xor_checksum(data) == old.xor_reduce(data), size
        assert xor_checksum(b"\xff" * size) == (0xFF if size % 2 else 0)


# --- GT06 splitter ---------------------------------------------------------------------------

REAL_GT06 = [frame_bytes(h) for h in G.ALL]
GENERATED_GT06 = gt06_locations(40)


def gt06_state(splitter: Gt06FrameSplitter | old.OldGt06FrameSplitter) -> tuple[int, ...]:
    return (
        splitter.skipped_bytes,
        splitter.frames,
        splitter.bad_crc_frames,
        splitter.dropped_frames,
        splitter.short_length_frames,
        splitter.buffered,
    )


def assert_gt06_splitters_agree(stream: bytes, sizes: list[int], limit: int, drop: bool) -> None:
    new = Gt06FrameSplitter(limit, drop_bad_crc=drop)
    reference = old.OldGt06FrameSplitter(limit, drop_bad_crc=drop)
    for piece in chunked(stream, sizes):
        assert outcome(new.feed, piece) == outcome(reference.feed, piece)
        assert gt06_state(new) == gt06_state(reference)


@st.composite
def gt06_streams(draw: st.DrawFn) -> bytes:
    alphabet = st.sampled_from([0x78, 0x79, 0x0D, 0x0A, 0x00, 0x05, 0xFF, 0x17, 0x69, 0x01])
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(REAL_GT06),
                st.sampled_from(GENERATED_GT06),
                st.binary(max_size=30),
                st.lists(alphabet, max_size=30).map(bytes),
            ),
            max_size=25,
        )
    )
    return mutate(draw, bytearray(b"".join(parts)))


@SETTINGS
@given(
    stream=gt06_streams(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20),
    limit=st.sampled_from([64, 100, 256, 1024, 4096]),
    drop=st.booleans(),
)
def test_gt06_splitter_matches_the_previous_one(
    stream: bytes, sizes: list[int], limit: int, drop: bool
) -> None:
    assert_gt06_splitters_agree(stream, sizes, limit, drop)


@pytest.mark.parametrize("size", [1, 7, 39, 4096])
def test_gt06_splitter_matches_the_previous_one_on_clean_streams(size: int) -> None:
    stream = b"".join(REAL_GT06 + GENERATED_GT06)
    assert_gt06_splitters_agree(stream, [size], 4096, False)
    assert_gt06_splitters_agree(stream, [size], 4096, True)


@pytest.mark.parametrize("extended", [False, True])
@pytest.mark.parametrize("length", range(8))
def test_gt06_splitter_matches_the_previous_one_on_tiny_length_fields(
    length: int, extended: bool
) -> None:
    # a header whose length field is below the minimum, yet 0D 0A sits where that length says
    head = b"\x79\x79" + length.to_bytes(2, "big") if extended else b"\x78\x78" + bytes([length])
    total = length + (6 if extended else 5)
    fake = head + bytes(range(1, total - len(head) - 1)) + b"\r\n"
    stream = fake[:total] + frame_bytes(G.STATUS_13)
    for size in (1, len(stream)):
        assert_gt06_splitters_agree(stream, [size], 4096, False)


@pytest.mark.parametrize("protocol", [0x17, 0x69])
def test_gt06_uncounted_wifi_frame_whose_count_looks_like_a_length(protocol: int) -> None:
    # five access points: read as a length, the frame would end at bytes 8-9, which hold 0D 0A
    aps = b"".join(bytes([0x10 + i] * 6) + b"\x40" for i in range(5))
    wifi = (
        b"\x78\x78\x05" + bytes([protocol]) + bytes.fromhex("250101120d0a") + aps
        + b"\x00" + bytes.fromhex("01cc00") + b"\r\n"
    )  # fmt: skip
    assert wifi[8:10] == b"\r\n"
    stream = wifi + frame_bytes(G.STATUS_13)
    for size in (1, 9, len(stream)):
        assert_gt06_splitters_agree(stream, [size], 4096, False)
    frames = Gt06FrameSplitter().feed(stream)
    assert [f.raw for f in frames] == [wifi, frame_bytes(G.STATUS_13)]
    assert frames[0].serial is None


def test_gt06_splitter_accepts_any_buffer_type_and_returns_bytes() -> None:
    raw = frame_bytes(G.GPS_LBS_22)
    for data in (bytearray(raw), memoryview(raw)):
        (frame,) = Gt06FrameSplitter().feed(data)
        assert type(frame.raw) is bytes and type(frame.content) is bytes
        assert frame == parse_frame(raw)


# --- GT06 decoder: fast handlers against the careful ones --------------------------------------

FAST_PROTOCOLS = sorted(gt06_decoder._FAST_HANDLERS)
PARSED_GT06 = [parse_frame(raw) for raw in REAL_GT06 + GENERATED_GT06[:3]]


def careful(frame: Gt06Frame, tz: tzinfo) -> object:
    handler = gt06_decoder._HANDLERS[frame.protocol]
    return handler(frame, ByteReader(frame.content, f"GT06 0x{frame.protocol:02X} content"), tz)


def assert_gt06_decoders_agree(frame: Gt06Frame, tz: tzinfo) -> None:
    assert outcome(gt06_decoder.decode, frame, tz=tz) == outcome(careful, frame, tz)


def with_content(frame: Gt06Frame, protocol: int, content: bytes) -> Gt06Frame:
    return Gt06Frame(protocol, content, frame.serial, frame.extended, frame.crc_ok, frame.raw)


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_gt06_fast_handlers_agree_on_every_real_and_generated_frame(tz: tzinfo) -> None:
    fast = [frame for frame in PARSED_GT06 if frame.protocol in gt06_decoder._FAST_HANDLERS]
    assert len(fast) >= 30
    for frame in fast:
        assert_gt06_decoders_agree(frame, tz)


@st.composite
def gt06_contents(draw: st.DrawFn) -> tuple[int, bytes]:
    protocol = draw(st.sampled_from(FAST_PROTOCOLS))
    same_kind = [frame.content for frame in PARSED_GT06 if frame.protocol == protocol]
    seed = draw(
        st.one_of(
            st.binary(max_size=80),
            st.sampled_from(same_kind) if same_kind else st.binary(max_size=80),
        )
    )
    return protocol, mutate(draw, bytearray(seed), max_edits=4)


def date_bytes() -> st.SearchStrategy[bytes]:
    """Six date/time bytes, mostly a valid date (so times get converted), sometimes not."""
    valid = st.tuples(
        st.integers(0, 99),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
    ).map(bytes)
    return st.one_of(valid, valid, st.binary(min_size=6, max_size=6))


@st.composite
def structured_gt06_contents(draw: st.DrawFn) -> tuple[int, bytes]:
    """Contents shaped like the fast-path messages: GPS block, cell/LBS block, status, tails."""
    protocol = draw(st.sampled_from(FAST_PROTOCOLS))
    if protocol == 0x13:
        return protocol, draw(st.binary(max_size=20))
    gps = draw(date_bytes()) + draw(st.binary(min_size=12, max_size=12))
    if protocol in (0x16, 0x26, 0x27, 0xA4):
        lbs_length = draw(st.sampled_from([0, 1, 9, 10, 16, 17]) | st.integers(0, 255))
        block = draw(st.binary(min_size=max(lbs_length - 1, 0), max_size=max(lbs_length - 1, 0)))
        if lbs_length == 0 and draw(st.booleans()):
            block = draw(st.binary(min_size=9, max_size=9)) + bytes(36)  # a zeroed LBS block
        middle = bytes([lbs_length]) + block
    else:
        middle = draw(st.binary(max_size=17))
    tail = draw(st.binary(max_size=12))
    return protocol, gps + middle + tail


@SETTINGS
@given(case=structured_gt06_contents(), tz=zones)
def test_gt06_fast_handlers_agree_on_structured_contents(
    case: tuple[int, bytes], tz: tzinfo
) -> None:
    protocol, content = case
    base = parse_frame(frame_bytes(G.GPS_LBS_22))
    assert_gt06_decoders_agree(with_content(base, protocol, content), tz)


@SETTINGS
@given(case=gt06_contents(), tz=zones)
def test_gt06_fast_handlers_agree_on_arbitrary_contents(
    case: tuple[int, bytes], tz: tzinfo
) -> None:
    protocol, content = case
    base = parse_frame(frame_bytes(G.GPS_LBS_22))
    assert_gt06_decoders_agree(with_content(base, protocol, content), tz)


@pytest.mark.parametrize("protocol", FAST_PROTOCOLS)
def test_gt06_fast_handlers_agree_on_every_truncation(protocol: int) -> None:
    base = parse_frame(frame_bytes(G.GPS_LBS_22))
    longest = max(
        (frame.content for frame in PARSED_GT06 if frame.protocol == protocol),
        key=len,
        default=base.content + bytes(range(40)),
    )
    for cut in range(len(longest) + 1):
        assert_gt06_decoders_agree(with_content(base, protocol, longest[:cut]), UTC)


@SETTINGS
@given(fields=date_bytes(), tz=zones)
def test_device_time_conversion_equals_astimezone(fields: bytes, tz: tzinfo) -> None:
    yy, mo, dd, hh, mi, ss = fields
    try:
        expected: datetime | None = datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=tz).astimezone(
            UTC
        )
    except (ValueError, OverflowError):
        expected = None
    got = gt06_decoder._utc_time(yy, mo, dd, hh, mi, ss, tz)
    assert got == expected
    assert got is None or got.tzinfo is UTC


# --- JT/T 808 --------------------------------------------------------------------------------

REAL_JT808 = [J.raw(h) for h in J.__dict__.values() if isinstance(h, str) and h[:2] in "7e7E"]
GENERATED_JT808 = jt808_locations(40)


@SETTINGS
@given(
    parts=st.lists(
        st.one_of(
            st.binary(max_size=12),
            st.sampled_from([b"\x7d", b"\x7e", b"\x7d\x01", b"\x7d\x02", b"\x01", b"\x02"]),
        ),
        max_size=30,
    )
)
def test_unescape_matches_the_previous_one(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert outcome(unescape, data) == outcome(old.old_unescape, data)


def jt808_state(splitter: Jt808FrameSplitter | old.OldJt808FrameSplitter) -> tuple[int, ...]:
    return (
        splitter.garbage_bytes,
        splitter.bad_checksum_frames,
        splitter.oversized_frames,
        splitter.frames_returned,
        splitter.buffered,
    )


def jt808_feed(splitter: Jt808FrameSplitter | old.OldJt808FrameSplitter, piece: bytes) -> object:
    try:
        return splitter.feed(piece)
    except ProtocolError as exc:
        return (type(exc).__name__, str(exc), getattr(exc, "frames", None))


@st.composite
def jt808_streams(draw: st.DrawFn) -> bytes:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(REAL_JT808),
                st.sampled_from(GENERATED_JT808),
                st.binary(max_size=30),
                st.sampled_from([b"\x7e", b"\x7d", b"\x7e\x7e", b"\x7d\x02", b"\x7d\x01"]),
            ),
            max_size=20,
        )
    )
    return mutate(draw, bytearray(b"".join(parts)))


@SETTINGS
@given(
    stream=jt808_streams(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20),
    limit=st.sampled_from([13, 60, 200, 4096]),
    keep=st.booleans(),
)
def test_jt808_splitter_matches_the_previous_one(
    stream: bytes, sizes: list[int], limit: int, keep: bool
) -> None:
    new = Jt808FrameSplitter(limit, keep_bad_checksum=keep)
    reference = old.OldJt808FrameSplitter(limit, keep_bad_checksum=keep)
    for piece in chunked(stream, sizes):
        assert jt808_feed(new, piece) == jt808_feed(reference, piece)
        assert jt808_state(new) == jt808_state(reference)


def test_jt808_splitter_accepts_a_bytearray_and_returns_bytes() -> None:
    wire = GENERATED_JT808[0]
    (frame,) = Jt808FrameSplitter().feed(bytearray(wire))
    assert type(frame.content) is bytes
    assert frame == Jt808Frame.from_wire(wire)


@SETTINGS
@given(raw=st.binary(min_size=0, max_size=8), tz=zones)
def test_decode_time_matches_the_previous_one(raw: bytes, tz: tzinfo) -> None:
    assert outcome(decode_time, raw, tz) == outcome(old.old_decode_time, raw, tz)


@settings(max_examples=300, deadline=None)
@given(
    bcd=st.lists(st.integers(0, 99), min_size=6, max_size=6).map(
        lambda v: bytes(int(str(x), 16) for x in v)
    ),
    tz=zones,
)
def test_decode_time_matches_the_previous_one_on_bcd(bcd: bytes, tz: tzinfo) -> None:
    assert outcome(decode_time, bcd, tz) == outcome(old.old_decode_time, bcd, tz)


def location_bodies() -> list[bytes]:
    bodies = []
    for wire in REAL_JT808 + GENERATED_JT808[:5]:
        try:
            header, body = parse_header(Jt808Frame.from_wire(wire).content)
        except ProtocolError:
            continue
        if header.msg_id == 0x0200 and not header.is_subpackage:
            bodies.append(body)
    return bodies


LOCATION_BODIES = location_bodies()


@st.composite
def location_body_cases(draw: st.DrawFn) -> bytes:
    seed = draw(st.one_of(st.sampled_from(LOCATION_BODIES), st.binary(max_size=80)))
    return mutate(draw, bytearray(seed), max_edits=4)


@SETTINGS
@given(
    body=location_body_cases(),
    tz=zones,
    jimi=st.booleans(),
    archive=st.booleans(),
    strict=st.booleans(),
)
def test_decode_location_matches_the_previous_one(
    body: bytes, tz: tzinfo, jimi: bool, archive: bool, strict: bool
) -> None:
    options = {"tz": tz, "jimi_extensions": jimi, "archive": archive, "strict_items": strict}
    assert outcome(decode_location, body, **options) == outcome(
        old.old_decode_location, body, **options
    )


def test_decode_location_matches_the_previous_one_on_every_real_body_and_truncation() -> None:
    assert len(LOCATION_BODIES) >= 10
    for body in LOCATION_BODIES:
        for cut in range(len(body) + 1):
            part = body[:cut]
            assert outcome(decode_location, part) == outcome(old.old_decode_location, part)
