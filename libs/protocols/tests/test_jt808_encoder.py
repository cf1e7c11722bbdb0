"""JT/T 808 encoder: byte-exact against public frames, round trips, and the reply policy."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from libs.protocols.tests import jt808_frames as F
from libs.protocols.tests.plausibility import verify_position
from trackstream_protocols import ProtocolError
from trackstream_protocols.jt808 import (
    GeneralResult,
    Jt808Address,
    Jt808Decoder,
    Jt808FrameSplitter,
    Jt808Packet,
    Jt808Parameter,
    Location,
    MsgId,
    ParamType,
    PhotoResolution,
    RegisterResult,
    TerminalControlCommand,
    UnknownMessage,
    encode_frame,
    encode_frames,
    encode_general_response,
    encode_multimedia_response,
    encode_register_response,
    encode_resend_request,
    encode_response,
    encode_set_parameters,
    encode_take_photo,
    encode_terminal_control,
    encode_text_message,
    required_response,
    standard_parameter,
)

BSJ = Jt808Address.from_phone("024530313349")
GO_2013 = Jt808Address.from_phone("012345678901")
XTREAM_2013 = Jt808Address.from_phone("013912344323")
XTREAM_2019 = Jt808Address.from_phone("13912344329", protocol_version=1)
GO_2019 = Jt808Address.from_phone("17299841738", protocol_version=1)
TEXT = "HelloWorld 汉字 GBK 编码"


def roundtrip(wire: bytes) -> Jt808Packet:
    """Encoder output back through the splitter (check byte verified) and the decoder."""
    splitter = Jt808FrameSplitter()
    frames = splitter.feed(wire)
    assert len(frames) == 1 and frames[0].checksum_ok and splitter.garbage_bytes == 0
    return Jt808Decoder().decode(frames[0])


# --- byte-exact against public frames ------------------------------------------------------------


def test_general_response_matches_traccars_reply_to_a_bsj_km02() -> None:
    wire = encode_general_response(BSJ, 1, reply_serial=1, reply_msg_id=0x0102)
    assert wire == F.raw(F.GENERAL_RESPONSE_BSJ)


def test_general_response_matches_the_rtvs_servers_reply() -> None:
    to = Jt808Address.from_phone("015760005903")
    wire = encode_general_response(to, 6, reply_serial=0x01CA, reply_msg_id=0x0200)
    assert wire == F.raw(F.GENERAL_RESPONSE_RTVS)


def test_general_response_2019() -> None:
    wire = encode_general_response(XTREAM_2019, 0, reply_serial=0x6F, reply_msg_id=0x0200)
    assert wire == F.raw(F.GENERAL_RESPONSE_2019)


def test_register_response_2013_and_2019() -> None:
    wire = encode_register_response(GO_2013, 0, reply_serial=0, auth_code="12345678901")
    assert wire == F.raw(F.REGISTER_RESPONSE_2013)
    wire = encode_register_response(XTREAM_2019, 0, reply_serial=0x6F, auth_code="ok..ok..ok")
    assert wire == F.raw(F.REGISTER_RESPONSE_2019)


def test_register_response_refusal_carries_no_auth_code() -> None:
    wire = encode_register_response(
        GO_2013, 7, reply_serial=3, result=RegisterResult.TERMINAL_UNKNOWN
    )
    assert roundtrip(wire).message == UnknownMessage(0x8100, bytes.fromhex("000304"))
    with pytest.raises(ProtocolError, match="auth code"):
        encode_register_response(GO_2013, 7, reply_serial=3)


def test_multimedia_response_with_retransmit_ids() -> None:
    wire = encode_multimedia_response(GO_2013, 0x7FFF, media_id=0xC15F, retransmit=range(1, 10))
    assert wire == F.raw(F.MULTIMEDIA_RESPONSE_2013)


def test_multimedia_response_without_retransmit_ids() -> None:
    wire = encode_multimedia_response(XTREAM_2019, 5, media_id=111)
    assert roundtrip(wire).message == UnknownMessage(0x8800, bytes.fromhex("0000006f00"))


def test_resend_request_count_is_a_byte_in_2013_and_a_word_in_2019() -> None:
    wire = encode_resend_request(XTREAM_2013, 0, first_serial=0x6F, packet_ids=[2, 3, 4])
    assert wire == F.raw(F.RESEND_REQUEST_2013)
    wire = encode_resend_request(XTREAM_2019, 0, first_serial=0x6F, packet_ids=[2, 3, 4])
    assert wire == F.raw(F.RESEND_REQUEST_2019)
    with pytest.raises(ProtocolError):
        encode_resend_request(XTREAM_2013, 0, first_serial=1, packet_ids=[])


def test_terminal_control_reset_matches_traccars_command() -> None:
    wire = encode_terminal_control(BSJ, 0, command=TerminalControlCommand.RESET)
    assert wire == F.raw(F.TERMINAL_CONTROL_RESET_BSJ)


def test_terminal_control_with_parameters() -> None:
    wire = encode_terminal_control(
        GO_2013, 9, command=TerminalControlCommand.CONNECT_TO_SERVER, params="0;apn;;;host;7018"
    )
    assert roundtrip(wire).message == UnknownMessage(0x8105, b"\x020;apn;;;host;7018")


def test_set_parameters_matches_traccars_report_interval() -> None:
    (wire,) = encode_set_parameters(BSJ, 0, [Jt808Parameter(0x0029, ParamType.DWORD, 10)])
    assert wire == F.raw(F.SET_PARAMETERS_BSJ)
    assert [standard_parameter(0x0029, 10)] == [Jt808Parameter(0x0029, ParamType.DWORD, 10)]


def test_set_parameters_types() -> None:
    params = [
        standard_parameter(0x0013, "trackstream.example"),
        standard_parameter(0x0031, 500),
        standard_parameter(0x0084, 2),
        Jt808Parameter(0xF030, ParamType.BYTES, b"\x01\x02"),
    ]
    (wire,) = encode_set_parameters(GO_2013, 1, params)
    message = roundtrip(wire).message
    assert isinstance(message, UnknownMessage)
    assert message.body == (
        b"\x04"
        + b"\x00\x00\x00\x13\x13trackstream.example"
        + b"\x00\x00\x00\x31\x02\x01\xf4"
        + b"\x00\x00\x00\x84\x01\x02"
        + b"\x00\x00\xf0\x30\x02\x01\x02"
    )


@pytest.mark.parametrize(
    "param",
    [
        Jt808Parameter(0x0084, ParamType.BYTE, 256),
        Jt808Parameter(0x0031, ParamType.WORD, "text"),
        Jt808Parameter(0x0013, ParamType.STRING, 5),
        Jt808Parameter(0x0013, ParamType.STRING, "x" * 256),
    ],
)
def test_set_parameters_rejects_values_that_do_not_fit(param: Jt808Parameter) -> None:
    with pytest.raises(ProtocolError):
        encode_set_parameters(GO_2013, 1, [param])


def test_standard_parameter_needs_a_known_id() -> None:
    with pytest.raises(ProtocolError, match="no known type"):
        standard_parameter(0xF030, 1)


def test_text_message_gbk_2013_and_2019() -> None:
    assert encode_text_message(XTREAM_2013, 0, text=TEXT, flags=0x01) == F.raw(F.TEXT_MESSAGE_2013)
    wire = encode_text_message(XTREAM_2019, 0, text=TEXT, flags=0x01, text_type=1)
    assert wire == F.raw(F.TEXT_MESSAGE_2019)


def test_take_photo_2019() -> None:
    wire = encode_take_photo(
        XTREAM_2019,
        0,
        channel=0x16,
        count=0,
        save=True,
        resolution=0xFF,
        quality=3,
        brightness=0xC7,
        contrast=0x64,
        saturation=0x63,
        chroma=0x6F,
    )
    assert wire == F.raw(F.TAKE_PHOTO_2019)
    wire = encode_take_photo(
        GO_2019,
        0xFFFF,
        channel=1,
        count=2,
        interval_s=3,
        save=True,
        resolution=PhotoResolution.R1024X768,
        quality=5,
        brightness=255,
        contrast=127,
        saturation=127,
        chroma=255,
    )
    assert wire == F.raw(F.TAKE_PHOTO_2019_GO)


@pytest.mark.parametrize(
    "bad", [{"quality": 0}, {"quality": 11}, {"contrast": 128}, {"channel": 256}]
)
def test_take_photo_rejects_out_of_range_arguments(bad: dict[str, int]) -> None:
    with pytest.raises(ProtocolError):
        encode_take_photo(GO_2013, 1, **{"channel": 1, **bad})  # type: ignore[arg-type]


# --- addresses and framing -----------------------------------------------------------------------


def test_address_width_follows_the_edition() -> None:
    assert Jt808Address.from_phone("13511221122").phone_bcd == bytes.fromhex("013511221122")
    assert len(Jt808Address.from_phone("1", protocol_version=1).phone_bcd) == 10
    with pytest.raises(ProtocolError):
        Jt808Address(bytes(10))  # 2013 needs 6 bytes
    with pytest.raises(ProtocolError):
        Jt808Address.from_phone("12345678901234")  # 14 digits in 6 bytes


def test_replies_reuse_the_terminals_edition_and_phone_bytes() -> None:
    for frame in (F.REGISTER_2019, F.AUTH_VERSION_BIT_2013_HEADER, F.AUTH_NON_BCD_PHONE):
        packet = roundtrip_keep(frame)
        reply = encode_general_response(
            packet.header.address, 1, reply_serial=packet.header.serial, reply_msg_id=0x0102
        )
        back = roundtrip(reply)
        assert back.header.phone_bcd == packet.header.phone_bcd
        assert back.header.protocol_version == packet.header.protocol_version


def roundtrip_keep(frame: str) -> Jt808Packet:
    frames = Jt808FrameSplitter().feed(F.raw(frame))
    return Jt808Decoder().decode(frames[0])


def test_encoder_escapes_both_special_bytes_and_checks() -> None:
    body = bytes([0x7E, 0x7D, 0x01, 0x02, 0x7E])
    wire = encode_frame(GO_2013, 0x7E7D, 0x7D7E, body)
    assert wire.count(0x7E) == 2  # only the delimiters
    packet = roundtrip(wire)
    assert packet.header.msg_id == 0x7E7D and packet.header.serial == 0x7D7E
    assert packet.message == UnknownMessage(0x7E7D, body)


def test_a_body_longer_than_1023_bytes_needs_sub_packages() -> None:
    with pytest.raises(ProtocolError, match="sub-packages"):
        encode_frame(GO_2013, 0x8300, 1, bytes(1024))
    frames = encode_frames(GO_2013, 0x8300, 0xFFFE, bytes(2500))
    assert len(frames) == 3
    packets = [roundtrip(f) for f in frames]
    assert [p.header.serial for p in packets] == [0xFFFE, 0xFFFF, 0x0000]
    assert [(p.header.packet_total, p.header.packet_index) for p in packets] == [
        (3, 1),
        (3, 2),
        (3, 3),
    ]


def test_location_roundtrip_2019() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # 13:06:07 GMT+8
    body = struct.pack(
        ">IIIIHHH", 0x00000001, 0x0000000F, 48_856_613, 2_352_222, 35, 563, 271
    ) + bytes.fromhex("260304130607")
    body += bytes.fromhex("01040000271003020258300119310109")
    to = Jt808Address.from_phone("86123456789", protocol_version=1)
    packet = roundtrip(encode_frame(to, MsgId.LOCATION, 42, body))
    assert isinstance(packet.message, Location)
    fix = verify_position(packet.message.fix)
    assert fix.fix_time == when
    assert (fix.latitude, fix.longitude) == (-48.856613, -2.352222)
    assert (fix.speed_kmh, fix.course_deg, fix.altitude_m) == (56.3, 271.0, 35.0)
    assert fix.satellites == 9 and fix.attributes["rssi"] == 25
    assert fix.attributes["odometer"] == 1_000_000 and fix.attributes["obdSpeed"] == 60.0
    assert fix.attributes["alarm"] == "sos" and fix.attributes["ignition"] is True


# --- which uplink needs which reply --------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reply_id"),
    [
        (F.HEARTBEAT, MsgId.PLATFORM_RESPONSE),
        (F.LOGOUT, MsgId.PLATFORM_RESPONSE),
        (F.AUTH_2013, MsgId.PLATFORM_RESPONSE),
        (F.LOCATION_FUEL_SPEED, MsgId.PLATFORM_RESPONSE),
        (F.BATCH_BLIND_8, MsgId.PLATFORM_RESPONSE),
        (F.MULTIMEDIA_EVENT_2019, MsgId.PLATFORM_RESPONSE),
        (F.REGISTER_2013, MsgId.REGISTER_RESPONSE),
        (F.MULTIMEDIA_DATA_2019, MsgId.MULTIMEDIA_RESPONSE),
        (F.TERMINAL_RESPONSE_BSJ, None),
        (F.SNAP_RESPONSE_2019, None),
        (F.LOCATION_QUERY_RESPONSE_BSJ, None),
    ],
)
def test_required_response(frame: str, reply_id: MsgId | None) -> None:
    packet = roundtrip_keep(frame)
    needed = required_response(packet)
    if reply_id is None:
        assert needed is None
        return
    assert needed is not None and needed.msg_id == reply_id
    assert needed.reply_serial == packet.header.serial
    assert needed.reply_msg_id == packet.header.msg_id
    assert needed.to == packet.header.address


def test_intermediate_sub_packages_need_no_reply() -> None:
    frames = Jt808FrameSplitter(keep_bad_checksum=True).feed(F.raw(F.demo5_jpeg_packages()[0]))
    assert required_response(Jt808Decoder().decode(frames[0])) is None


def test_unknown_uplink_is_answered_unsupported() -> None:
    wire = encode_frame(GO_2013, 0x0900, 3, b"\xf0hello")
    needed = required_response(roundtrip(wire))
    assert needed is not None and needed.result == GeneralResult.UNSUPPORTED
    reply = roundtrip(encode_response(needed, 77))
    assert reply.message == UnknownMessage(0x8001, bytes.fromhex("0003090003"))


def test_encode_response_builds_each_reply() -> None:
    heartbeat = roundtrip_keep(F.HEARTBEAT_BSJ)
    needed = required_response(heartbeat)
    assert needed is not None
    reply = roundtrip(encode_response(needed, 1))
    assert reply.header.msg_id == 0x8001
    assert reply.message == UnknownMessage(0x8001, bytes.fromhex("0015000200"))

    register = required_response(roundtrip_keep(F.REGISTER_2019))
    assert register is not None
    with pytest.raises(ProtocolError, match="auth code"):
        encode_response(register, 2)
    reply = roundtrip(encode_response(register, 2, auth_code="T0K3N"))
    assert reply.header.edition == "2019"
    assert reply.message == UnknownMessage(0x8100, bytes.fromhex("521800") + b"T0K3N")

    media = required_response(roundtrip_keep(F.MULTIMEDIA_DATA_2019))
    assert media is not None and media.media_id == 111
    reply = roundtrip(encode_response(media, 3))
    assert reply.message == UnknownMessage(0x8800, bytes.fromhex("0000006f00"))
