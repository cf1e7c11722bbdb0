"""Pattern derivation: each encoding is found where our stores really put it.

The contexts are built with the platform's own encoders (protobuf messages, the GT06 and
JT/T 808 device codecs, the identifier HMAC), not with the scanner's code, so a test fails when
the scanner's idea of an encoding drifts from what the platform writes.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import pytest
from google.protobuf.wrappers_pb2 import BytesValue

from libs.residualscan.tests.subjects import IDENTIFIER_KEY, fresh_subject
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_protocols.gt06.decoder import decode
from trackstream_protocols.gt06.device import encode_login
from trackstream_protocols.gt06.framing import Gt06FrameSplitter
from trackstream_protocols.jt808.device import encode_heartbeat
from trackstream_protocols.jt808.framing import unescape
from trackstream_protocols.jt808.header import Jt808Address, parse_header
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import MIN_PATTERN_BYTES, derive_patterns
from trackstream_residual_scan.subject import IdentifierKind, Subject, parse_subject

SUBJECT = fresh_subject(1)
OTHER = fresh_subject(2)


def ident(subject: Subject, kind: IdentifierKind, index: int = 0) -> str:
    return subject.of_kind(kind)[index].value


def found(data: bytes, subject: Subject = SUBJECT) -> set[tuple[str, str]]:
    matcher = Matcher(derive_patterns(subject, identifier_key=IDENTIFIER_KEY))
    return {(p.ref, p.encoding) for _, p in matcher.find(data)}


DEVICE_ID = ident(SUBJECT, IdentifierKind.ID, 1)
IMEI = ident(SUBJECT, IdentifierKind.DEVICE_IDENTIFIER, 0)
TERMINAL_PHONE = ident(SUBJECT, IdentifierKind.DEVICE_IDENTIFIER, 1)
EMAIL = ident(SUBJECT, IdentifierKind.EMAIL)


def test_utf8_in_a_protobuf_string_field() -> None:
    event = PositionReported(device_id=DEVICE_ID).SerializeToString()
    assert found(event) == {("id:1", "utf8")}


def test_uuid_as_16_raw_bytes_in_a_protobuf_bytes_field() -> None:
    raw = BytesValue(value=uuid.UUID(DEVICE_ID).bytes).SerializeToString()
    assert found(raw) == {("id:1", "uuid-bytes")}


@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_hex_in_either_case(case: Callable[[str], str]) -> None:
    uuid_hex = case(uuid.UUID(DEVICE_ID).hex)
    email_hex = case(EMAIL.encode().hex())
    line = f"device={uuid_hex} owner={email_hex}".encode()
    assert found(line) == {("id:1", "uuid-hex"), ("email:0", "hex")}


def test_utf8_text_matches_in_any_letter_case() -> None:
    assert found(f"to: {EMAIL.upper()}".encode()) == {("email:0", "utf8")}
    assert found(DEVICE_ID.upper().encode()) == {("id:1", "utf8")}


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy"], ids=["aligned", "offset-1", "offset-2"])
def test_base64_inside_a_longer_blob_at_every_alignment(prefix: bytes) -> None:
    document = prefix + b'{"email":"' + EMAIL.encode() + b'"}'
    assert ("email:0", "base64") in found(base64.b64encode(document))
    # bytes whose base64 is all / (_ in the URL alphabet), so the two alphabets differ
    device = uuid.UUID(bytes=b"\xff" * 16)
    subject = parse_subject({"ids": [str(device)]})
    token = prefix + device.bytes + b"\xff\xfe"
    url_safe = base64.urlsafe_b64encode(token).rstrip(b"=")
    assert b"_" in url_safe and b"/" not in url_safe
    assert found(url_safe, subject) == {("id:0", "uuid-base64url")}
    assert found(base64.b64encode(token), subject) == {("id:0", "uuid-base64")}


def test_utf16_and_percent_encoding() -> None:
    name = ident(SUBJECT, IdentifierKind.NAME)
    assert found(name.encode("utf-16-le")) == {("name:0", "utf16le")}
    assert found(b"\xfe\xff" + name.encode("utf-16-be")) == {("name:0", "utf16be")}
    assert ("email:0", "url") in found(b"mailto:" + EMAIL.replace("@", "%40").encode())
    assert ("name:0", "url") in found(b"?q=" + name.replace(" ", "+").encode())


def test_gt06_login_frame_carries_the_imei_as_bcd_with_a_leading_zero() -> None:
    frame = encode_login(IMEI, serial=1)
    (cut,) = Gt06FrameSplitter().feed(frame)
    assert decode(cut).imei == IMEI  # type: ignore[attr-defined]  # the platform's decoder agrees
    assert ("device_identifier:0", "bcd-gt06-imei") in found(frame)


def test_jt808_headers_carry_the_terminal_phone_as_6_or_10_bcd_bytes() -> None:
    frame_2013 = encode_heartbeat(Jt808Address.from_phone(TERMINAL_PHONE), serial=7)
    frame_2019 = encode_heartbeat(Jt808Address.from_phone(TERMINAL_PHONE, 1), serial=7)
    header_2013, _ = parse_header(unescape(frame_2013[1:-2]))
    assert header_2013.phone == TERMINAL_PHONE
    assert ("device_identifier:1", "bcd-jt808-2013") in found(frame_2013)
    in_2019 = found(frame_2019)
    assert ("device_identifier:1", "bcd-jt808-2019") in in_2019
    assert ("device_identifier:1", "bcd-jt808-2013") in in_2019  # its last 6 bytes, overlapping


def test_jt808_header_with_an_imei_as_a_48_bit_number() -> None:
    phone_bytes = int(IMEI[:14]).to_bytes(6, "big")
    frame = encode_heartbeat(Jt808Address(phone_bytes), serial=3)
    header, _ = parse_header(unescape(frame[1:-2]))
    assert header.terminal_id == IMEI  # the platform derives the IMEI from these 6 bytes
    assert ("device_identifier:0", "jt808-imei48") in found(unescape(frame))


def test_identifier_hmac_in_the_device_registry_event() -> None:
    digest = identifier_hmac(IDENTIFIER_KEY, IMEI)
    event = DeviceRegistered(device_id="x" * 36, identifier_hmac=digest).SerializeToString()
    assert found(event) == {("identifier_hmac:0", "hmac-bytes")}
    assert found(digest.hex().upper().encode()) == {("identifier_hmac:0", "hmac-hex")}
    assert ("identifier_hmac:0", "hmac-base64") in found(base64.b64encode(b"k" + digest))


def test_without_the_key_no_hmac_pattern_and_the_hmac_is_not_found() -> None:
    patterns = derive_patterns(SUBJECT)
    assert not [p for p in patterns if p.kind is IdentifierKind.IDENTIFIER_HMAC]
    digest = identifier_hmac(IDENTIFIER_KEY, IMEI)
    assert Matcher(patterns).find(digest) == []


def test_phone_spellings_and_digits_stored_as_numbers() -> None:
    phone = ident(SUBJECT, IdentifierKind.PHONE)
    digits = "".join(c for c in phone if c.isdigit())
    for spelling in (phone, digits, "+" + digits, "00" + digits):
        assert ("phone:0", "utf8") in found(f"tel {spelling};".encode()), spelling
    # identity keeps a device identifier as digits without leading zeros
    assert ("device_identifier:1", "utf8") in found(TERMINAL_PHONE.lstrip("0").encode())


def test_plate_without_its_separators() -> None:
    plate = ident(SUBJECT, IdentifierKind.PLATE)
    compact = "".join(c for c in plate if c.isalnum()).lower()
    assert found(compact.encode()) == {("plate:0", "utf8")}


def test_another_subject_leaves_no_trace_in_these_encodings() -> None:
    other_device = ident(OTHER, IdentifierKind.ID, 1)
    other_imei = ident(OTHER, IdentifierKind.DEVICE_IDENTIFIER, 0)
    blob = b"".join(
        [
            PositionReported(device_id=other_device).SerializeToString(),
            uuid.UUID(other_device).bytes,
            encode_login(other_imei, serial=1),
            identifier_hmac(IDENTIFIER_KEY, other_imei),
            base64.b64encode(ident(OTHER, IdentifierKind.EMAIL).encode()),
        ]
    )
    assert found(blob) == set()
    assert found(blob, subject=OTHER) != set()


def test_every_pattern_is_long_enough_and_unique_per_identifier() -> None:
    patterns = derive_patterns(SUBJECT, identifier_key=IDENTIFIER_KEY)
    assert min(len(p.data) for p in patterns) >= MIN_PATTERN_BYTES
    keys = [(p.ref, p.key, p.case_insensitive) for p in patterns]
    assert len(keys) == len(set(keys))
    assert {p.ref for p in patterns} == {i.ref for i in SUBJECT.identifiers} | {
        "identifier_hmac:0",
        "identifier_hmac:1",
    }
