"""GT06 frame splitter and CRC: real frames, partial reads, garbage, limits, bad-CRC policy."""

from __future__ import annotations

import pytest

from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from trackstream_protocols.errors import FrameTooLarge, ProtocolError
from trackstream_protocols.gt06 import (
    Gt06FrameSplitter,
    crc16_x25,
    encode_frame,
    parse_frame,
)


def test_crc16_x25_check_value() -> None:
    # the catalogue check value of CRC-16/X.25 (a.k.a. CRC-16/IBM-SDLC, CRC-ITU in Concox docs)
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_x25(b"") == 0x0000


@pytest.mark.parametrize("hex_frame", F.ALL)
def test_real_frame_is_one_frame_with_expected_crc_flag(hex_frame: str) -> None:
    raw = frame_bytes(hex_frame)
    frame = parse_frame(raw)
    assert frame.raw == raw
    if frame.serial is None:  # uncounted Wi-Fi variant: no CRC to check
        assert frame.crc_ok is None
        assert frame.protocol in (0x17, 0x69)
    else:
        assert frame.crc_ok is (hex_frame not in F.BAD_CRC)
        assert frame.serial == int.from_bytes(raw[-6:-4], "big")


def test_frame_fields_of_a_short_and_a_long_frame() -> None:
    short = parse_frame(frame_bytes(F.GPS_LBS_22))
    assert (short.protocol, short.serial, short.extended, short.crc_ok) == (0x22, 8, False, True)
    assert short.content == frame_bytes(F.GPS_LBS_22)[4:-6]
    long = parse_frame(frame_bytes(F.INFO_94_ICCID))
    assert (long.protocol, long.serial, long.extended, long.crc_ok) == (0x94, 3, True, True)
    assert long.content[0] == 0x0A and len(long.content) == 1 + 8 + 8 + 10


def test_byte_by_byte_feeding_yields_every_frame_once_in_order() -> None:
    stream = b"".join(frame_bytes(h) for h in F.ALL)
    splitter = Gt06FrameSplitter()
    frames = []
    for i in range(len(stream)):
        frames.extend(splitter.feed(stream[i : i + 1]))
        assert splitter.buffered <= splitter.max_frame_size
    assert [f.raw for f in frames] == [frame_bytes(h) for h in F.ALL]
    assert splitter.skipped_bytes == 0
    assert splitter.buffered == 0
    assert splitter.frames == len(F.ALL)
    assert splitter.bad_crc_frames == len(F.BAD_CRC)


def test_several_frames_in_one_read_and_a_partial_tail() -> None:
    login, status, gps = (frame_bytes(h) for h in (F.LOGIN_5361, F.STATUS_13_5361, F.GPS_LBS_22))
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(login + status + gps[:7])
    assert [f.protocol for f in frames] == [0x01, 0x13]
    assert splitter.buffered == 7
    frames = splitter.feed(gps[7:])
    assert [f.raw for f in frames] == [gps]
    assert splitter.buffered == 0


def test_garbage_before_and_between_frames_is_skipped_and_counted() -> None:
    garbage1 = b"\x00\xff GET / HTTP/1.1\r\n"
    garbage2 = b"\x78\x01\x79\x02\x0d\x0a"  # header halves and a stray trailer
    login, gps = frame_bytes(F.LOGIN_171), frame_bytes(F.GPS_LBS_12_MOROCCO_171)
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(garbage1 + login + garbage2 + gps)
    assert [f.raw for f in frames] == [login, gps]
    assert splitter.skipped_bytes == len(garbage1) + len(garbage2)


def test_header_whose_trailer_is_wrong_is_skipped_and_the_next_frame_found() -> None:
    broken = bytearray(frame_bytes(F.STATUS_13))
    broken[-1] = 0x0B  # 0D 0B instead of 0D 0A
    good = frame_bytes(F.STATUS_13_CHARGING)
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(bytes(broken) + good)
    assert [f.raw for f in frames] == [good]
    assert splitter.skipped_bytes == len(broken)


def test_a_frame_split_at_every_position_is_reassembled() -> None:
    for hex_frame in (F.INFO_94_ICCID, F.GPS_LBS_A0_NEPAL, F.WIFI_69_EIGHT_APS, F.LOGIN_TZ_WEST4):
        raw = frame_bytes(hex_frame)
        for cut in range(1, len(raw)):
            splitter = Gt06FrameSplitter()
            assert splitter.feed(raw[:cut]) == []
            assert [f.raw for f in splitter.feed(raw[cut:])] == [raw]


def test_uncounted_wifi_frames_are_framed_by_structure() -> None:
    raw = frame_bytes(F.WIFI_69_THREE_APS)
    assert raw[2] == 3  # the "length" byte is the access-point count
    frame = parse_frame(raw)
    assert (frame.protocol, frame.serial, frame.crc_ok) == (0x69, None, None)
    assert frame.content == raw[4:-2]


def test_uncounted_wifi_frame_is_not_cut_at_a_0d0a_inside_it() -> None:
    # one access point whose MAC, and one cell whose LAC/CI, contain 0D 0A
    raw = (
        b"\x78\x78\x01\x69"
        + bytes.fromhex("250101120000")  # BCD time 2025-01-01 12:00:00
        + bytes.fromhex("0d0a0d0a0d0a") + b"\x0d"
        + b"\x01" + bytes.fromhex("01cc00") + bytes.fromhex("0d0a0d0a0a")
        + b"\r\n"
    )  # fmt: skip
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(raw + frame_bytes(F.STATUS_13))
    assert [f.raw for f in frames] == [raw, frame_bytes(F.STATUS_13)]
    assert splitter.skipped_bytes == 0


def test_length_field_two_short_is_accepted_only_when_the_crc_proves_it() -> None:
    raw = frame_bytes(F.STATUS_13_SHORT_LENGTH)
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(raw)
    assert [f.raw for f in frames] == [raw]
    assert frames[0].crc_ok is True and frames[0].serial == 0x044D
    assert splitter.short_length_frames == 1
    tampered = bytearray(raw)
    tampered[5] ^= 0x01  # now the CRC does not prove the longer frame
    splitter = Gt06FrameSplitter()
    assert splitter.feed(bytes(tampered)) == []
    assert splitter.skipped_bytes == len(tampered)


@pytest.mark.parametrize("hex_frame", [F.GPS_10_NO_CRC_UNSUPPORTED, F.LOGIN_TRUNCATED_UNSUPPORTED])
def test_unsupported_real_variants_are_skipped_and_counted(hex_frame: str) -> None:
    raw = frame_bytes(hex_frame)
    following = frame_bytes(F.STATUS_13)
    splitter = Gt06FrameSplitter()
    assert [f.raw for f in splitter.feed(raw + following)] == [following]
    assert splitter.skipped_bytes == len(raw)


def test_bad_crc_frames_are_kept_flagged_by_default() -> None:
    bad = frame_bytes(F.LOGIN_608_BAD_CRC)
    good = frame_bytes(F.LBS_18_608)
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(bad + good)
    assert [(f.raw, f.crc_ok) for f in frames] == [(bad, False), (good, True)]
    assert (splitter.bad_crc_frames, splitter.dropped_frames, splitter.frames) == (1, 0, 2)


def test_bad_crc_frames_are_dropped_and_counted_when_asked() -> None:
    bad = frame_bytes(F.LOGIN_608_BAD_CRC)
    good = frame_bytes(F.LBS_18_608)
    wifi = frame_bytes(F.WIFI_69_NO_AP)  # no CRC at all: never dropped for it
    splitter = Gt06FrameSplitter(drop_bad_crc=True)
    frames = splitter.feed(bad + good + bad + wifi)
    assert [f.raw for f in frames] == [good, wifi]
    assert (splitter.bad_crc_frames, splitter.dropped_frames, splitter.frames) == (2, 2, 2)
    assert splitter.skipped_bytes == 0


def test_declared_length_beyond_the_limit_raises_and_clears_the_buffer() -> None:
    splitter = Gt06FrameSplitter(max_frame_size=128)
    header = b"\x79\x79\x01\x00\x94"  # declares 256 + 6 bytes
    with pytest.raises(FrameTooLarge, match="declares 262 bytes"):
        splitter.feed(header)
    assert splitter.buffered == 0
    # still usable afterwards
    good = frame_bytes(F.STATUS_13)
    assert [f.raw for f in splitter.feed(good)] == [good]


def test_frame_too_large_is_a_protocol_error() -> None:
    assert issubclass(FrameTooLarge, ProtocolError)
    splitter = Gt06FrameSplitter(max_frame_size=64)
    big = encode_frame(0x21, b"\x00" * 100, serial=1, extended=True)
    with pytest.raises(ProtocolError):
        splitter.feed(big)


def test_buffer_never_exceeds_the_limit_on_a_long_garbage_read() -> None:
    splitter = Gt06FrameSplitter(max_frame_size=64)
    good = frame_bytes(F.STATUS_13)
    data = b"\x00" * 10_000 + good + b"\x78" * 3
    frames = splitter.feed(data)
    assert [f.raw for f in frames] == [good]
    assert splitter.buffered <= 64
    assert splitter.skipped_bytes >= 10_000


def test_a_frame_at_exactly_the_limit_is_accepted() -> None:
    content = b"A" * (64 - 10)
    raw = encode_frame(0x15, content, serial=7)
    assert len(raw) == 64
    splitter = Gt06FrameSplitter(max_frame_size=64)
    assert [f.raw for f in splitter.feed(raw)] == [raw]


def test_limit_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 64"):
        Gt06FrameSplitter(max_frame_size=63)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x78\x78", b"garbage", frame_bytes(F.STATUS_13) * 2, frame_bytes(F.STATUS_13)[:-1]],
)
def test_parse_frame_wants_exactly_one_complete_frame(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="expected one GT06 frame"):
        parse_frame(data)
