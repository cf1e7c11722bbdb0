"""GT06 acknowledgements, time response and commands, checked against real server answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.gt06 import (
    Gt06FrameSplitter,
    Gt06Heartbeat,
    Gt06Location,
    Gt06Login,
    Gt06WifiReport,
    UnknownMessage,
    decode,
    encode_ack,
    encode_address_response,
    encode_command,
    encode_frame,
    encode_time_response,
    engine_resume_command,
    engine_stop_command,
    needs_ack,
    parse_frame,
)

NOW = datetime(2015, 12, 29, 0, 0, 21, tzinfo=UTC)


@pytest.mark.parametrize(("request_hex", "answer_hex"), F.ACKNOWLEDGED)
def test_ack_matches_what_the_server_answered_in_real_logs(
    request_hex: str, answer_hex: str
) -> None:
    frame = parse_frame(frame_bytes(request_hex))
    message = decode(frame)
    assert needs_ack(message) and needs_ack(frame)
    assert encode_ack(message) == bytes.fromhex(answer_hex)
    assert encode_ack(frame) == bytes.fromhex(answer_hex)


def test_ack_examples_of_the_concox_protocol_document() -> None:
    assert encode_frame(0x01, serial=0x0005) == bytes.fromhex("7878050100059FF80D0A")
    assert encode_frame(0x13, serial=0x0100) == bytes.fromhex("787805130100E1A00D0A")
    assert encode_frame(0x26, serial=0x001C) == bytes.fromhex("78780526001C9D860D0A")


def test_time_response_example_of_the_concox_protocol_document() -> None:
    request = decode(parse_frame(frame_bytes(F.TIME_REQUEST_8A)))
    expected = bytes.fromhex("78780B8A0F0C1D0000150006F0860D0A")  # 2015-12-29 00:00:21 UTC
    assert needs_ack(request)
    assert encode_ack(request, now=NOW) == expected
    assert encode_time_response(6, now=NOW) == expected
    # any aware time is sent as UTC
    assert encode_time_response(6, now=NOW.astimezone(timezone(timedelta(hours=8)))) == expected


def test_time_response_defaults_to_the_current_utc_time() -> None:
    request = decode(parse_frame(frame_bytes(F.TIME_REQUEST_8A)))
    before = datetime.now(UTC).replace(microsecond=0)
    answer = encode_ack(request)
    after = datetime.now(UTC)
    assert answer is not None
    month, day, hour, minute, second = answer[5:10]
    sent = datetime(2000 + answer[4], month, day, hour, minute, second, tzinfo=UTC)
    assert before <= sent <= after


def test_time_response_rejects_naive_or_unsendable_times() -> None:
    with pytest.raises(ProtocolError, match="timezone-aware"):
        encode_time_response(1, now=datetime(2024, 1, 1))
    with pytest.raises(ProtocolError, match="year 1999"):
        encode_time_response(1, now=datetime(1999, 12, 31, tzinfo=UTC))


def test_uncounted_wifi_is_answered_with_its_own_time_and_no_crc() -> None:
    frame = parse_frame(frame_bytes(F.WIFI_69_THREE_APS))
    message = decode(frame)
    assert isinstance(message, Gt06WifiReport)
    expected = bytes.fromhex("78780069") + bytes.fromhex("160413031849") + b"\r\n"
    assert encode_ack(message) == expected
    assert encode_ack(frame) == expected
    seventeen = decode(parse_frame(frame_bytes(F.WIFI_17_NO_AP)))
    assert encode_ack(seventeen) == bytes.fromhex("78780017190119105436") + b"\r\n"


@pytest.mark.parametrize(
    "hex_frame",
    [
        F.STRING_21_UTF16,  # command reply 0x21
        F.INFO_94_ICCID,  # information 0x94
        F.INFO_94_OLD_VOLTAGE,
    ],
)
def test_types_that_are_never_acknowledged(hex_frame: str) -> None:
    frame = parse_frame(frame_bytes(hex_frame))
    message = decode(frame)
    assert not needs_ack(message) and not needs_ack(frame)
    assert encode_ack(message) is None and encode_ack(frame) is None


@pytest.mark.parametrize(
    "hex_frame",
    [
        F.LOGIN_SHORT,
        F.STATUS_13,
        F.HEARTBEAT_23,
        F.GPS_10,
        F.GPS_LBS_12,
        F.GPS_LBS_22,
        F.GPS_LBS_37,
        F.GPS_LBS_A0_NEPAL,
        F.ALARM_16_OVERSPEED,
        F.ALARM_26_VIBRATION,
        F.ALARM_27_TAMPERING,
        F.ALARM_A4_POWER_OFF,
        F.LBS_18,
        F.LBS_28,
        F.LBS_WIFI_2C,
        F.STRING_15_CUT,
        F.DASHCAM_95_GENERAL,
        F.GPS_LBS_EXTEND_1E,  # unknown type with the short header: still acknowledged
    ],
)
def test_plain_acknowledgement_echoes_type_and_serial(hex_frame: str) -> None:
    frame = parse_frame(frame_bytes(hex_frame))
    message = decode(frame)
    assert needs_ack(message)
    answer = encode_ack(message)
    assert answer is not None
    assert answer[:3] == b"\x78\x78\x05" and answer[-2:] == b"\r\n"
    assert answer[3] == frame.protocol
    assert int.from_bytes(answer[4:6], "big") == frame.serial


def test_unknown_short_header_types_are_acknowledged() -> None:
    # Traccar answers every 78 78 type it does not know, except the command echoes 0x80-0x82
    unknown = decode(parse_frame(encode_frame(0x77, b"\x01\x02", serial=0x0102)))
    assert isinstance(unknown, UnknownMessage) and not unknown.extended
    assert needs_ack(unknown)
    assert encode_ack(unknown) == encode_frame(0x77, serial=0x0102)


def test_unknown_extended_types_and_command_echoes_are_not_acknowledged() -> None:
    unknown_long = decode(parse_frame(encode_frame(0x66, b"\x01", serial=1, extended=True)))
    assert isinstance(unknown_long, UnknownMessage) and unknown_long.extended
    assert not needs_ack(unknown_long)
    for protocol in (0x80, 0x81, 0x82):
        echo = decode(parse_frame(encode_frame(protocol, b"\x00", serial=1)))
        assert not needs_ack(echo)


def test_address_request_gets_the_empty_address() -> None:
    request = decode(parse_frame(encode_frame(0x2A, b"\x00" * 40, serial=9)))
    answer = encode_ack(request)
    assert answer == encode_address_response()
    frame = parse_frame(answer)
    assert frame.extended and frame.protocol == 0x97 and frame.crc_ok
    assert frame.content == b"\x0b\x00\x00\x00\x00NA&&NA&&0##"


def test_engine_commands_match_traccars_encoder() -> None:
    # Gt06ProtocolEncoderTest: engineStop -> Relay,1# with serial 0
    assert engine_stop_command(serial=0) == bytes.fromhex(
        "787812800c0000000052656c61792c312300009dee0d0a"
    )
    resume = parse_frame(engine_resume_command(serial=7, server_flag=0x01020304))
    assert resume.content == b"\x0c\x01\x02\x03\x04Relay,0#"
    assert (resume.serial, resume.crc_ok) == (7, True)


def test_custom_commands() -> None:
    # an older Traccar encoder test (DYD,000000#) and the Concox document's sos# example
    assert encode_command("DYD,000000#", serial=0) == bytes.fromhex(
        "787815800f000000004459442c303030303030230000e6c40d0a"
    )
    assert encode_command("sos#", serial=1) == bytes.fromhex(
        "78780E800800000000736F732300016D6A0D0A"
    )
    with_language = parse_frame(encode_command("WHERE#", serial=2, language=2))
    assert with_language.content == b"\x0a\x00\x00\x00\x00WHERE#\x00\x02"


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("Relé,1#", {}, "must be ASCII"),
        ("X" * 252, {}, "too long"),
        ("Relay,1#", {"server_flag": 1 << 32}, "server flag"),
        ("Relay,1#", {"serial": 70000}, "serial"),
        ("Relay,1#", {"language": -1}, "language"),
    ],
)
def test_commands_that_cannot_be_encoded(text: str, options: dict[str, int], message: str) -> None:
    arguments: dict[str, int] = {"serial": 1, **options}
    with pytest.raises(ProtocolError, match=message):
        encode_command(text, **arguments)


def test_every_encoder_output_passes_our_own_splitter_and_crc() -> None:
    outputs = [
        engine_stop_command(serial=0xFFFF),
        engine_resume_command(serial=0),
        encode_command("X" * 243, serial=5, language=1),
        encode_time_response(0x1234, now=NOW),
        encode_address_response(),
        encode_frame(0x21, b"\x00" * 1000, serial=3, extended=True),
    ]
    for hex_frame in F.ALL:
        frame = parse_frame(frame_bytes(hex_frame))
        answer = encode_ack(frame, now=NOW)
        # the Wi-Fi answer (78 78 00 <type> <time> 0D 0A) is no device frame and has no CRC:
        # it is checked byte for byte in its own test
        if answer is not None and frame.serial is not None:
            outputs.append(answer)
    assert len(outputs) > 60
    splitter = Gt06FrameSplitter()
    frames = splitter.feed(b"".join(outputs))
    assert [f.raw for f in frames] == outputs
    assert splitter.skipped_bytes == 0 and splitter.buffered == 0
    assert all(f.crc_ok is True for f in frames)


def test_needs_ack_agrees_with_encode_ack_for_every_real_frame() -> None:
    for hex_frame in F.ALL:
        frame = parse_frame(frame_bytes(hex_frame))
        message = decode(frame) if frame.content or frame.protocol != 0x12 else None
        if message is None:
            continue
        assert needs_ack(message) == (encode_ack(message, now=NOW) is not None)
        assert needs_ack(message) == needs_ack(frame)


def test_messages_built_by_hand_are_acknowledged_too() -> None:
    login = Gt06Login(protocol=0x01, serial=0x05D4, imei="860470067873061")
    assert encode_ack(login) == bytes.fromhex("7878050105d426440d0a")
    heartbeat = Gt06Heartbeat(protocol=0x13, serial=0x05CC)
    assert encode_ack(heartbeat) == bytes.fromhex("7878051305cc8aa00d0a")
    location = Gt06Location(protocol=0x12, serial=0x05CD, fix=None)
    assert encode_ack(location) == bytes.fromhex("7878051205cdc1f50d0a")
