"""JT/T 808 frame splitter: delimiting, escaping, partial reads, garbage, bounds, check byte."""

from __future__ import annotations

import contextlib

import pytest

from libs.protocols.tests.jt808_frames import (
    BAD_CHECKSUM,
    HEARTBEAT,
    JC371_ALARM_LABEL,
    JC371_BATTERY,
    LOCATION_2014_BAD,
    LOCATION_EB_BATTERY,
    LOCATION_ESCAPED_GO,
    LOCATION_FUEL_SPEED,
    LOGOUT,
    REGISTER_2013,
    demo5_jpeg_packages,
    inner,
    raw,
)
from trackstream_protocols import FrameTooLarge, ProtocolError
from trackstream_protocols.jt808 import (
    Jt808Frame,
    Jt808FrameSplitter,
    Jt808FrameTooLarge,
    escape,
    unescape,
    xor_checksum,
)


def test_escape_and_unescape_are_inverse_for_both_special_bytes() -> None:
    data = bytes([0x30, 0x7E, 0x08, 0x7D, 0x55, 0x7D, 0x7E])
    escaped = escape(data)
    assert escaped == bytes([0x30, 0x7D, 0x02, 0x08, 0x7D, 0x01, 0x55, 0x7D, 0x01, 0x7D, 0x02])
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@pytest.mark.parametrize("bad", [b"\x7d", b"\x01\x7d\x03", b"\x7d\x7d\x01"])
def test_unescape_rejects_a_lone_or_unknown_escape(bad: bytes) -> None:
    with pytest.raises(ProtocolError, match="escape"):
        unescape(bad)


def test_xor_checksum_of_a_real_frame() -> None:
    content = unescape(raw(HEARTBEAT)[1:-1])
    assert xor_checksum(content[:-1]) == content[-1] == 0xCA


def test_one_real_frame_is_one_frame() -> None:
    splitter = Jt808FrameSplitter()
    frames = splitter.feed(raw(REGISTER_2013))
    assert len(frames) == 1
    assert frames[0].checksum_ok
    assert frames[0].content[:2] == b"\x01\x00"
    assert splitter.buffered == 0 and splitter.garbage_bytes == 0


def test_escaped_frame_is_unescaped_before_the_check() -> None:
    # the latitude 0x07203B7E of this location travels as 07 20 3B 7D 02
    frames = Jt808FrameSplitter().feed(raw(LOCATION_ESCAPED_GO))
    assert len(frames) == 1 and frames[0].checksum_ok
    assert frames[0].content[12 + 8 : 12 + 12] == bytes.fromhex("07203b7e")
    assert Jt808Frame.from_wire(raw(LOCATION_ESCAPED_GO)) == frames[0]


def test_several_frames_in_one_read_come_out_in_order() -> None:
    stream = raw(HEARTBEAT) + raw(LOGOUT) + raw(LOCATION_FUEL_SPEED)
    frames = Jt808FrameSplitter().feed(stream)
    assert [f.content[:2] for f in frames] == [b"\x00\x02", b"\x00\x03", b"\x02\x00"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_partial_reads_give_the_same_frames(chunk: int) -> None:
    stream = raw(HEARTBEAT) + raw(REGISTER_2013) + raw(LOCATION_EB_BATTERY)
    whole = Jt808FrameSplitter().feed(stream)
    splitter = Jt808FrameSplitter()
    pieces: list[Jt808Frame] = []
    for i in range(0, len(stream), chunk):
        pieces.extend(splitter.feed(stream[i : i + chunk]))
    assert pieces == whole
    assert len(pieces) == 3
    assert splitter.buffered == 0


def test_a_frame_cut_inside_an_escape_sequence_still_decodes() -> None:
    packages = demo5_jpeg_packages()
    wire = raw(packages[0])
    cut = wire.index(b"\x7d") + 1  # between 0x7D and its 01/02
    splitter = Jt808FrameSplitter(keep_bad_checksum=True)
    assert splitter.feed(wire[:cut]) == []
    frames = splitter.feed(wire[cut:])
    assert len(frames) == 1
    assert len(frames[0].content) == 16 + 804


def test_garbage_before_between_and_empty_delimiters_is_skipped_and_counted() -> None:
    stream = (
        b"\x00\x01garbage"  # before the first delimiter
        + raw(HEARTBEAT)
        + b"\x7e\x7e"  # empty frames
        + b"noise"  # between frames: a candidate too short to be a frame
        + raw(LOGOUT)
        + b"\x7e\x01\x02\x03\x7e"  # too short to be a frame
    )
    splitter = Jt808FrameSplitter()
    frames = splitter.feed(stream)
    assert [f.content[:2] for f in frames] == [b"\x00\x02", b"\x00\x03"]
    assert splitter.garbage_bytes == len(b"\x00\x01garbage") + len(b"noise") + 3


def test_frames_sharing_a_delimiter_are_both_found() -> None:
    stream = raw(HEARTBEAT)[:-1] + raw(LOGOUT)  # 7E hb 7E logout 7E
    assert len(Jt808FrameSplitter().feed(stream)) == 2


def test_a_bad_escape_inside_a_candidate_drops_only_that_candidate() -> None:
    stream = b"\x7e" + b"\x00" * 12 + b"\x7d\x05\x00\x7e" + raw(HEARTBEAT)
    splitter = Jt808FrameSplitter()
    frames = splitter.feed(stream)
    assert len(frames) == 1
    assert splitter.garbage_bytes == 15


def test_public_frames_with_a_wrong_check_byte_are_dropped_and_counted_by_default() -> None:
    splitter = Jt808FrameSplitter()
    stream = b"".join(raw(f) for f in BAD_CHECKSUM) + raw(HEARTBEAT)
    frames = splitter.feed(stream)
    assert len(frames) == 1 and frames[0].checksum_ok
    # JC371_ALARM_LABEL holds a raw 0x7E, so it arrives as two candidates (both bad)
    assert splitter.bad_checksum_frames >= len(BAD_CHECKSUM)


def test_public_frames_with_a_wrong_check_byte_are_kept_and_flagged_on_request() -> None:
    splitter = Jt808FrameSplitter(keep_bad_checksum=True)
    frames = splitter.feed(raw(LOCATION_2014_BAD) + raw(JC371_BATTERY) + raw(HEARTBEAT))
    assert [f.checksum_ok for f in frames] == [False, False, True]
    assert frames[0].checksum == 0xD0
    assert splitter.bad_checksum_frames == 2


def test_demo5_packages_are_kept_only_when_asked() -> None:
    stream = b"".join(raw(p) for p in demo5_jpeg_packages())
    assert Jt808FrameSplitter().feed(stream) == []
    kept = Jt808FrameSplitter(keep_bad_checksum=True).feed(stream)
    assert len(kept) == 10
    assert all(f.checksum ^ xor_checksum(f.content) == 0x92 for f in kept)


def test_from_unescaped_reads_traccar_style_raw_content() -> None:
    frame = Jt808Frame.from_unescaped(inner(JC371_BATTERY))
    assert frame.checksum_ok  # right for the raw bytes, wrong once un-escaped on the wire
    label = Jt808Frame.from_unescaped(inner(JC371_ALARM_LABEL))
    assert not label.checksum_ok


def test_from_wire_rejects_what_is_not_one_frame() -> None:
    with pytest.raises(ProtocolError):
        Jt808Frame.from_wire(b"\x7e\x00\x02\x7e")
    with pytest.raises(ProtocolError):
        Jt808Frame.from_wire(raw(HEARTBEAT)[:-1])
    with pytest.raises(ProtocolError, match="0x7E inside"):
        Jt808Frame.from_wire(raw(HEARTBEAT) + raw(LOGOUT))


def test_oversized_frame_raises_once_discards_and_recovers() -> None:
    splitter = Jt808FrameSplitter(max_frame_size=64)
    with pytest.raises(FrameTooLarge):
        splitter.feed(b"\x7e" + b"\x11" * 100)
    assert splitter.buffered == 0
    assert splitter.oversized_frames == 1
    # the rest of the oversized frame is skipped, later frames decode again
    frames = splitter.feed(b"\x22" * 50 + b"\x7e" + raw(HEARTBEAT))
    assert len(frames) == 1
    assert splitter.garbage_bytes == 150


def test_frames_before_an_oversized_one_travel_with_the_error() -> None:
    splitter = Jt808FrameSplitter(max_frame_size=64)
    with pytest.raises(Jt808FrameTooLarge) as caught:
        splitter.feed(raw(HEARTBEAT) + raw(REGISTER_2013) + b"\x7e" + b"\x33" * 65 + b"\x7e")
    assert [f.content[:2] for f in caught.value.frames] == [b"\x00\x02", b"\x01\x00"]
    assert isinstance(caught.value, ProtocolError)


def test_buffer_never_exceeds_the_limit_across_many_reads() -> None:
    splitter = Jt808FrameSplitter(max_frame_size=32)
    splitter.feed(b"\x7e")
    for _ in range(10):
        with contextlib.suppress(FrameTooLarge):
            splitter.feed(b"\x44" * 20)
        assert splitter.buffered <= 32


def test_max_frame_size_below_a_header_is_refused() -> None:
    with pytest.raises(ProtocolError):
        Jt808FrameSplitter(max_frame_size=5)
