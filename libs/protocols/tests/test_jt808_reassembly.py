"""Sub-package reassembly: a real ten-package JPEG, shuffled/missing packages, bounds, staleness."""

from __future__ import annotations

import random
from typing import Any

import pytest

from libs.protocols.tests import jt808_frames as F
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols import ProtocolError
from trackstream_protocols.jt808 import (
    Jt808Address,
    Jt808Decoder,
    Jt808FrameSplitter,
    Jt808Header,
    Jt808Packet,
    Jt808Reassembled,
    Jt808Reassembler,
    MsgId,
    MultimediaData,
    SubPackage,
    encode_frames,
    encode_multimedia_response,
    encode_resend_request,
    required_response,
)

TERMINAL = Jt808Address.from_phone("13800138000")


def packets(wire: bytes, *, keep_bad_checksum: bool = False) -> list[Jt808Packet]:
    frames = Jt808FrameSplitter(keep_bad_checksum=keep_bad_checksum).feed(wire)
    return [Jt808Decoder().decode(f) for f in frames]


def sub(packet: Jt808Packet) -> SubPackage:
    assert isinstance(packet.message, SubPackage)
    return packet.message


def multimedia_body(media_id: int, data: bytes) -> bytes:
    location = bytes.fromhex("00000000000000030158b92406cb70070010001e005a260304130607")
    return media_id.to_bytes(4, "big") + bytes([0, 0, 1, 1]) + location + data


def upload(media_id: int, data: bytes, *, first_serial: int = 100) -> list[bytes]:
    return encode_frames(
        TERMINAL,
        MsgId.MULTIMEDIA_DATA,
        first_serial,
        multimedia_body(media_id, data),
        max_body=256,
    )


def add_all(reassembler: Jt808Reassembler, items: list[Jt808Packet]) -> list[Jt808Reassembled]:
    done = []
    for packet in items:
        whole = reassembler.add(packet.header, sub(packet).data, now=0.0)
        if whole is not None:
            done.append(whole)
    return done


def test_real_jpeg_upload_with_interleaved_serials_reassembles() -> None:
    wire = b"".join(F.raw(p) for p in F.demo5_jpeg_packages())
    items = packets(wire, keep_bad_checksum=True)
    assert [p.header.serial for p in items] == [
        0x2031, 0x2032, 0x2033, 0x2035, 0x2036, 0x2037, 0x2039, 0x203A, 0x203B, 0x203C,
    ]  # fmt: skip
    reassembler = Jt808Reassembler()
    (whole,) = add_all(reassembler, items)
    assert reassembler.pending_count == 0 and reassembler.pending_bytes == 0
    assert whole.header.serial == 0x2031 and whole.header.packet_index == 1
    message = Jt808Decoder().decode_body(whole.header, whole.body)
    assert isinstance(message, MultimediaData)
    assert message.media_id == 10013 and message.channel == 1 and message.event == 1
    assert (message.media_type, message.media_format) == (0, 0)  # JPEG image
    assert len(message.data) == 6935
    assert message.data[:2] == b"\xff\xd8" and message.data[-2:] == b"\xff\xd9"  # SOI ... EOI
    fix = verify_position(message.location.fix)
    assert (fix.latitude, fix.longitude, fix.altitude_m) == (30.55617, 103.978661, 481.0)

    needed = required_response(Jt808Packet(whole.header, message))
    assert needed is not None and needed.msg_id == 0x8800 and needed.media_id == 10013


def test_real_jpeg_upload_missing_packages_are_listed() -> None:
    items = packets(b"".join(F.raw(p) for p in F.demo5_jpeg_packages()), keep_bad_checksum=True)
    reassembler = Jt808Reassembler()
    kept = [p for i, p in enumerate(items) if i not in (2, 6)]  # lose packages 3 and 7
    assert add_all(reassembler, kept) == []
    assert reassembler.missing(kept[-1].header) == (3, 7)
    (pending,) = reassembler.pending()
    assert pending.first_serial == 0x2031 and pending.total == 10 and pending.missing == (3, 7)
    # resending the lost packages (same serials, as the standard asks) completes the message
    (whole,) = add_all(reassembler, [items[6], items[2]])
    assert len(whole.body) == 804 + 8 * 768 + 23


def test_shuffled_upload_reassembles() -> None:
    data = bytes(random.Random(7).randrange(256) for _ in range(3000))
    frames = upload(0xABCDEF, data)
    assert len(frames) > 10
    items = packets(b"".join(frames))
    random.Random(1).shuffle(items)
    reassembler = Jt808Reassembler()
    (whole,) = add_all(reassembler, items)
    message = Jt808Decoder().decode_body(whole.header, whole.body)
    assert isinstance(message, MultimediaData)
    assert message.media_id == 0xABCDEF and message.data == data
    assert whole.header.packet_index == 1 and whole.header.serial == 100


def test_shuffled_upload_with_a_missing_package_reports_it_and_asks_for_it() -> None:
    data = bytes(range(256)) * 5
    items = packets(b"".join(upload(9, data, first_serial=0xFFFD)))
    lost = items.pop(3)
    random.Random(2).shuffle(items)
    reassembler = Jt808Reassembler()
    assert add_all(reassembler, items) == []
    assert reassembler.missing(items[0].header) == (4,)
    (pending,) = reassembler.pending()
    assert pending.first_serial == 0xFFFD and pending.missing == (4,)
    assert pending.header.packet_index == 1
    # the two ways to ask for it, both valid frames
    asks = [
        encode_multimedia_response(TERMINAL, 1, media_id=9, retransmit=pending.missing),
        encode_resend_request(
            TERMINAL, 2, first_serial=pending.first_serial, packet_ids=pending.missing
        ),
    ]
    assert len(Jt808FrameSplitter().feed(b"".join(asks))) == 2
    (whole,) = add_all(reassembler, [lost])
    message = Jt808Decoder().decode_body(whole.header, whole.body)
    assert isinstance(message, MultimediaData) and message.data == data


def test_two_messages_of_one_terminal_stay_apart() -> None:
    first = packets(b"".join(upload(1, b"a" * 700, first_serial=10)))
    second = packets(b"".join(upload(2, b"b" * 700, first_serial=20)))
    mixed = [p for pair in zip(first, second, strict=True) for p in pair]
    done = add_all(Jt808Reassembler(), mixed)
    datas = []
    for whole in done:
        message = Jt808Decoder().decode_body(whole.header, whole.body)
        assert isinstance(message, MultimediaData)
        datas.append((message.media_id, message.data))
    assert sorted(datas) == [(1, b"a" * 700), (2, b"b" * 700)]


def test_duplicate_package_is_counted_once() -> None:
    items = packets(b"".join(upload(5, bytes(600))))
    reassembler = Jt808Reassembler()
    reassembler.add(items[0].header, sub(items[0]).data, now=0)
    size = reassembler.pending_bytes
    reassembler.add(items[0].header, sub(items[0]).data, now=1)
    assert reassembler.pending_bytes == size and reassembler.pending_count == 1


def test_stale_messages_expire_by_the_callers_clock() -> None:
    items = packets(b"".join(upload(5, bytes(600))))
    reassembler = Jt808Reassembler(max_age=30)
    reassembler.add(items[0].header, sub(items[0]).data, now=100.0)
    assert reassembler.expire(129.0) == []
    (dropped,) = reassembler.expire(131.0)
    assert dropped.missing == tuple(range(2, len(items) + 1))
    assert reassembler.pending_count == 0 and reassembler.pending_bytes == 0
    assert reassembler.evicted == 1
    # adding after the age limit starts over instead of completing a stale message
    reassembler.add(items[0].header, sub(items[0]).data, now=200.0)
    assert all(reassembler.add(p.header, sub(p).data, now=300.0) is None for p in items[1:])


def test_max_pending_evicts_the_least_recently_seen() -> None:
    reassembler = Jt808Reassembler(max_pending=2)
    firsts = [packets(b"".join(upload(i, bytes(600), first_serial=i * 10)))[0] for i in (1, 2, 3)]
    for t, packet in enumerate(firsts):
        reassembler.add(packet.header, sub(packet).data, now=float(t))
    assert reassembler.pending_count == 2
    assert [p.first_serial for p in reassembler.pending()] == [20, 30]
    assert reassembler.evicted == 1


def test_max_total_bytes_evicts_and_refuses_a_message_that_cannot_fit() -> None:
    reassembler = Jt808Reassembler(max_total_bytes=600)
    a = packets(b"".join(upload(1, bytes(900), first_serial=10)))
    b = packets(b"".join(upload(2, bytes(900), first_serial=50)))
    reassembler.add(a[0].header, sub(a[0]).data, now=0)
    reassembler.add(a[1].header, sub(a[1]).data, now=0)
    reassembler.add(b[0].header, sub(b[0]).data, now=1)  # evicts message a
    assert [p.first_serial for p in reassembler.pending()] == [50]
    assert reassembler.pending_bytes <= 600
    reassembler.add(b[1].header, sub(b[1]).data, now=1)
    with pytest.raises(ProtocolError, match="reassembly budget"):
        reassembler.add(b[2].header, sub(b[2]).data, now=2)
    assert reassembler.pending_count == 0 and reassembler.pending_bytes == 0


def test_a_message_that_is_not_sub_packaged_is_refused() -> None:
    header = Jt808Header(0x0801, 4, 0, False, None, TERMINAL.phone_bcd, 1)
    with pytest.raises(ProtocolError, match="not a sub-package"):
        Jt808Reassembler().add(header, b"data", now=0)


@pytest.mark.parametrize(
    "kwargs", [{"max_pending": 0}, {"max_total_bytes": 0}, {"max_age": 0}, {"max_serial_gap": -1}]
)
def test_bounds_must_be_positive(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        Jt808Reassembler(**kwargs)
