"""The C extension and the pure-Python code give identical results: the differential oracle.

For arbitrary byte streams, and for real and generated frames mutated, the native splitters and
decoders (the defaults) and the Python ones (``native=False``, ``decode_python``) return equal
frames, messages and positions, with the same ``repr`` (so the same value types, float signs
and time zones), raise the same protocol error with the same message, keep the same counters
and never buffer more than ``max_frame_size``. Anything but a :class:`ProtocolError` fails a
test, and so would a hang (pytest-timeout).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import timedelta, timezone, tzinfo

from hypothesis import given
from hypothesis import strategies as st

from libs.protocols.tests import jt808_frames as J
from libs.protocols.tests.generated_frames import jt808_locations
from libs.protocols.tests.test_codec_fast_paths import (
    GENERATED_GT06,
    GENERATED_JT808,
    REAL_GT06,
    REAL_JT808,
    SETTINGS,
    ZONES,
    chunked,
    date_bytes,
    gt06_state,
    gt06_streams,
    jt808_feed,
    jt808_state,
    jt808_streams,
    mutate,
    outcome,
)
from trackstream_protocols import gt06, jt808
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06.decoder import decode_python
from trackstream_protocols.jt808.location import CHINA_STANDARD_TIME

ALL_ZONES: list[tzinfo] = [*ZONES, CHINA_STANDARD_TIME, timezone(timedelta(hours=14))]
zones = st.sampled_from(ALL_ZONES)
NATIVE_GT06_PROTOCOLS = [0x10, 0x11, 0x12, 0x22, 0x2D, 0x31, 0xA0]


def same(got: object, want: object) -> None:
    assert got == want
    assert repr(got) == repr(want)


# --- GT06 ------------------------------------------------------------------------------------


def assert_gt06_decoders_agree(frame: gt06.Gt06Frame, tz: tzinfo, require_crc: bool) -> None:
    same(
        outcome(gt06.decode, frame, tz=tz, require_crc=require_crc),
        outcome(decode_python, frame, tz=tz, require_crc=require_crc),
    )


@SETTINGS
@given(
    stream=gt06_streams(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20),
    limit=st.sampled_from([64, 100, 256, 1024, 4096]),
    drop=st.booleans(),
    tz=zones,
    require_crc=st.booleans(),
)
def test_gt06_native_and_python_agree_on_any_stream(
    stream: bytes, sizes: list[int], limit: int, drop: bool, tz: tzinfo, require_crc: bool
) -> None:
    native = gt06.Gt06FrameSplitter(limit, drop_bad_crc=drop)
    python = gt06.Gt06FrameSplitter(limit, drop_bad_crc=drop, native=False)
    for piece in chunked(stream, sizes):
        got, want = outcome(native.feed, piece), outcome(python.feed, piece)
        same(got, want)
        assert gt06_state(native) == gt06_state(python)
        assert native.buffered <= limit
        if isinstance(got, list) and isinstance(want, list):
            for native_frame, python_frame in zip(got, want, strict=True):
                same(
                    outcome(gt06.decode, native_frame, tz=tz, require_crc=require_crc),
                    outcome(decode_python, python_frame, tz=tz, require_crc=require_crc),
                )


@SETTINGS
@given(stream=st.binary(max_size=600), size=st.integers(1, 200), drop=st.booleans())
def test_gt06_native_and_python_agree_on_arbitrary_bytes(
    stream: bytes, size: int, drop: bool
) -> None:
    native = gt06.Gt06FrameSplitter(64, drop_bad_crc=drop)
    python = gt06.Gt06FrameSplitter(64, drop_bad_crc=drop, native=False)
    for piece in chunked(stream, [size]):
        same(outcome(native.feed, piece), outcome(python.feed, piece))
        assert gt06_state(native) == gt06_state(python)


def test_gt06_native_and_python_agree_on_every_real_and_generated_frame() -> None:
    frames = gt06.Gt06FrameSplitter(native=False).feed(b"".join(REAL_GT06 + GENERATED_GT06))
    assert len(frames) == len(REAL_GT06) + len(GENERATED_GT06)
    same(gt06.Gt06FrameSplitter().feed(b"".join(REAL_GT06 + GENERATED_GT06)), frames)
    for frame in frames:
        for tz in ALL_ZONES:
            for require_crc in (False, True):
                assert_gt06_decoders_agree(frame, tz, require_crc)


@st.composite
def gt06_location_contents(draw: st.DrawFn) -> bytes:
    """Contents shaped like GPS(+LBS) reports: a GPS block, cell block, status and tails."""
    gps = draw(date_bytes()) + draw(st.binary(min_size=12, max_size=12))
    mcc = draw(st.sampled_from([0, 0x011E, 0x811E, 0x7FFF, 0xFFFF]) | st.integers(0, 0xFFFF))
    cell = struct.pack(">H", mcc) + draw(st.binary(max_size=16))
    if draw(st.booleans()):
        cell = bytes(len(cell))  # an all-zero cell: None
    tail = draw(st.binary(max_size=8))
    return (gps + cell + tail)[: draw(st.integers(0, 60))]


@SETTINGS
@given(
    protocol=st.sampled_from(NATIVE_GT06_PROTOCOLS) | st.integers(0, 255),
    content=gt06_location_contents() | st.binary(max_size=60),
    serial=st.sampled_from([None, 0, 1, 300, 0xFFFF]),
    extended=st.booleans(),
    crc_ok=st.sampled_from([True, False, None]),
    tz=zones,
    require_crc=st.booleans(),
)
def test_gt06_native_and_python_decode_any_content_alike(
    protocol: int,
    content: bytes,
    serial: int | None,
    extended: bool,
    crc_ok: bool | None,
    tz: tzinfo,
    require_crc: bool,
) -> None:
    frame = gt06.Gt06Frame(protocol, content, serial, extended, crc_ok, b"")
    assert_gt06_decoders_agree(frame, tz, require_crc)


@st.composite
def mutated_gt06_frames(draw: st.DrawFn) -> gt06.Gt06Frame:
    (frame,) = gt06.Gt06FrameSplitter(native=False).feed(draw(st.sampled_from(REAL_GT06)))
    content = mutate(draw, bytearray(frame.content), max_edits=4)
    return gt06.Gt06Frame(
        frame.protocol, content, frame.serial, frame.extended, frame.crc_ok, frame.raw
    )


@SETTINGS
@given(frame=mutated_gt06_frames(), tz=zones)
def test_gt06_native_and_python_agree_on_mutated_real_frames(
    frame: gt06.Gt06Frame, tz: tzinfo
) -> None:
    assert_gt06_decoders_agree(frame, tz, False)


def test_gt06_decode_passes_unusual_arguments_on_to_python() -> None:
    (frame,) = gt06.Gt06FrameSplitter().feed(GENERATED_GT06[0])
    calls: tuple[Callable[[Callable[..., object]], object], ...] = (
        lambda d: d(),
        lambda d: d(frame, frame),
        lambda d: d(frame, zone=CHINA_STANDARD_TIME),
        lambda d: d(frame, require_crc=1),
        lambda d: d("not a frame"),
    )
    for call in calls:
        try:
            call(decode_python)
        except (TypeError, AttributeError, ProtocolError) as exc:
            expected: object = (type(exc), str(exc))
        else:
            expected = call(decode_python)
        try:
            got: object = call(gt06.decode)
        except (TypeError, AttributeError, ProtocolError) as exc:
            got = (type(exc), str(exc))
        assert got == expected


# --- JT/T 808 --------------------------------------------------------------------------------


def decoders(
    tz: tzinfo, strict_length: bool, jimi: bool, strict_items: bool
) -> tuple[jt808.Jt808Decoder, jt808.Jt808Decoder]:
    return tuple(  # type: ignore[return-value]
        jt808.Jt808Decoder(
            device_tz=tz,
            strict_body_length=strict_length,
            jimi_extensions=jimi,
            strict_additional_items=strict_items,
            native=native,
        )
        for native in (True, False)
    )


options = {
    "tz": zones,
    "strict_length": st.booleans(),
    "jimi": st.booleans(),
    "strict_items": st.booleans(),
}


@SETTINGS
@given(
    stream=jt808_streams(),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20),
    limit=st.sampled_from([13, 60, 200, 4096]),
    keep=st.booleans(),
    **options,
)
def test_jt808_native_and_python_agree_on_any_stream(
    stream: bytes,
    sizes: list[int],
    limit: int,
    keep: bool,
    tz: tzinfo,
    strict_length: bool,
    jimi: bool,
    strict_items: bool,
) -> None:
    native = jt808.Jt808FrameSplitter(limit, keep_bad_checksum=keep)
    python = jt808.Jt808FrameSplitter(limit, keep_bad_checksum=keep, native=False)
    native_decoder, python_decoder = decoders(tz, strict_length, jimi, strict_items)
    for piece in chunked(stream, sizes):
        got, want = jt808_feed(native, piece), jt808_feed(python, piece)
        same(got, want)
        assert jt808_state(native) == jt808_state(python)
        assert native.buffered <= limit
        frames = got if isinstance(got, list) else got[2] if isinstance(got, tuple) else None
        for frame in frames or []:
            same(outcome(native_decoder.decode, frame), outcome(python_decoder.decode, frame))


@SETTINGS
@given(stream=st.binary(max_size=600), size=st.integers(1, 200), keep=st.booleans())
def test_jt808_native_and_python_agree_on_arbitrary_bytes(
    stream: bytes, size: int, keep: bool
) -> None:
    native = jt808.Jt808FrameSplitter(60, keep_bad_checksum=keep)
    python = jt808.Jt808FrameSplitter(60, keep_bad_checksum=keep, native=False)
    for piece in chunked(b"\x7e" + stream, [size]):
        same(jt808_feed(native, piece), jt808_feed(python, piece))
        assert jt808_state(native) == jt808_state(python)


ITEM_LENGTHS = {0x01: 4, 0x02: 2, 0x03: 2, 0x14: 4, 0x25: 4, 0x2A: 2, 0x2B: 4, 0x30: 1, 0x31: 1}


def one_in(draw: st.DrawFn, n: int) -> bool:
    return draw(st.integers(0, n - 1)) == 0


@st.composite
def additional_items(draw: st.DrawFn) -> bytes:
    if one_in(draw, 8):
        item_id = draw(st.integers(0, 255))
    else:
        item_id = draw(st.sampled_from([*ITEM_LENGTHS, 0xE8, 0xEB, 0x36, 0xE1]))
    usual = ITEM_LENGTHS.get(item_id, 4)
    length = draw(st.integers(0, 12)) if one_in(draw, 6) else usual
    return bytes([item_id, length]) + draw(st.binary(min_size=length, max_size=length))


def bcd_time(draw: st.DrawFn) -> bytes:
    valid = st.tuples(
        st.integers(0, 99),
        st.integers(1, 12),
        st.integers(1, 31),
        st.integers(0, 23),
        st.integers(0, 59),
        st.integers(0, 59),
    ).map(lambda values: bytes(int(str(v), 16) for v in values))
    return draw(st.one_of(valid, valid, valid, st.binary(min_size=6, max_size=6)))


@st.composite
def location_frames(draw: st.DrawFn) -> jt808.Jt808Frame:
    """0x0200 frames, mostly well formed: header, basic block, additional items, tails."""
    alarm = draw(st.sampled_from([0, 1, 0x80, 0x40000000]) | st.integers(0, 0xFFFFFFFF))
    status = draw(st.sampled_from([0, 3, 0x0F, 0x403]) | st.integers(0, 0xFFFFFFFF))
    basic = struct.pack(
        ">IIIIHHH",
        alarm,
        status,
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.sampled_from([0, 100, 0x8064, 0x8000]) | st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFF)),
    ) + bcd_time(draw)
    body = basic + b"".join(draw(st.lists(additional_items(), max_size=8)))
    if one_in(draw, 4):
        body += draw(st.sampled_from([b"\x01", b"\x30\x05\x01"]) | st.binary(max_size=3))
    if one_in(draw, 8):
        body = body[: draw(st.integers(0, len(body)))]
    msg_id = 0x0200 if not one_in(draw, 8) else draw(st.sampled_from([0x0201, 0x0002, 0x0704]))
    length = len(body) & 0x3FF if not one_in(draw, 8) else draw(st.integers(0, 0x3FF))
    if one_in(draw, 6):
        length |= draw(st.sampled_from([0x0400, 0x2000, 0x4000, 0x8000]))
    props = length
    phone = draw(st.sampled_from([bytes.fromhex("013912345678"), bytes(6)]))
    header = struct.pack(">HH", msg_id, props) + phone + struct.pack(">H", draw(st.integers(0, 9)))
    return jt808.Jt808Frame(header + body, draw(st.integers(0, 255)), draw(st.booleans()))


@SETTINGS
@given(frame=location_frames(), **options)
def test_jt808_native_and_python_decode_location_frames_alike(
    frame: jt808.Jt808Frame, tz: tzinfo, strict_length: bool, jimi: bool, strict_items: bool
) -> None:
    native, python = decoders(tz, strict_length, jimi, strict_items)
    same(outcome(native.decode, frame), outcome(python.decode, frame))


def real_jt808_frames() -> list[jt808.Jt808Frame]:
    wire = b"".join(REAL_JT808 + GENERATED_JT808 + [J.raw(h) for h in J.demo5_jpeg_packages()])
    return jt808.Jt808FrameSplitter(keep_bad_checksum=True, native=False).feed(wire)


REAL_JT808_FRAMES = real_jt808_frames()


def test_jt808_native_and_python_agree_on_every_real_and_generated_frame() -> None:
    assert len(REAL_JT808_FRAMES) >= 60
    for tz in ALL_ZONES:
        for jimi in (False, True):
            for strict in (False, True):
                native, python = decoders(tz, strict, jimi, strict)
                for frame in REAL_JT808_FRAMES:
                    same(outcome(native.decode, frame), outcome(python.decode, frame))


@st.composite
def mutated_jt808_frames(draw: st.DrawFn) -> jt808.Jt808Frame:
    seed = draw(st.sampled_from(REAL_JT808_FRAMES))
    content = mutate(draw, bytearray(seed.content), max_edits=4)
    return jt808.Jt808Frame(content, seed.checksum, seed.checksum_ok)


@SETTINGS
@given(frame=mutated_jt808_frames(), **options)
def test_jt808_native_and_python_agree_on_mutated_real_frames(
    frame: jt808.Jt808Frame, tz: tzinfo, strict_length: bool, jimi: bool, strict_items: bool
) -> None:
    native, python = decoders(tz, strict_length, jimi, strict_items)
    same(outcome(native.decode, frame), outcome(python.decode, frame))


def test_jt808_native_answers_with_any_fixed_offset_zone_and_hands_others_back() -> None:
    frames = jt808.Jt808FrameSplitter().feed(b"".join(jt808_locations(5)))
    for tz in ALL_ZONES:
        native, python = decoders(tz, True, True, False)
        for frame in frames:
            same(native.decode(frame), python.decode(frame))


@SETTINGS
@given(values=st.lists(st.binary(min_size=4, max_size=4), min_size=9, max_size=9), **options)
def test_jt808_native_and_python_agree_on_every_standard_item(
    values: list[bytes], tz: tzinfo, strict_length: bool, jimi: bool, strict_items: bool
) -> None:
    (frame,) = jt808.Jt808FrameSplitter().feed(jt808_locations(1)[0])
    header, basic = frame.content[:12], frame.content[12:40]
    items = b"".join(
        bytes([item_id, length]) + value[:length]
        for (item_id, length), value in zip(ITEM_LENGTHS.items(), values, strict=True)
    )
    body = basic + items
    header = header[:2] + struct.pack(">H", len(body)) + header[4:]
    native, python = decoders(tz, strict_length, jimi, strict_items)
    changed = jt808.Jt808Frame(header + body, 0, False)
    assert type(native.decode(changed).message).__name__ == "Location"
    same(outcome(native.decode, changed), outcome(python.decode, changed))


@SETTINGS
@given(size=st.integers(0, 20), data=st.data(), keep=st.booleans())
def test_jt808_splitters_agree_around_the_smallest_frame(
    size: int, data: st.DataObject, keep: bool
) -> None:
    content = data.draw(st.binary(min_size=size, max_size=size))
    check = 0
    for b in content:
        check ^= b
    candidate = jt808.escape(content + bytes([check if data.draw(st.booleans()) else check ^ 1]))
    stream = b"\x7e" + candidate + b"\x7e" + candidate + b"\x7e"
    native = jt808.Jt808FrameSplitter(60, keep_bad_checksum=keep)
    python = jt808.Jt808FrameSplitter(60, keep_bad_checksum=keep, native=False)
    same(jt808_feed(native, stream), jt808_feed(python, stream))
    assert jt808_state(native) == jt808_state(python)
