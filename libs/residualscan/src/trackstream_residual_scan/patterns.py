"""Every byte pattern an identifier can take in our stores.

A scan matches bytes, not values: a device id is UTF-8 in a protobuf string field, 16 raw bytes
in a protobuf ``bytes`` field or a Cassandra ``uuid`` cell, hex in a log line, base64 inside a
JSON document; an IMEI is ASCII digits in an event and packed BCD in a raw GT06 login frame that
a quarantine topic keeps. :func:`derive_patterns` lists them all, each named by its *encoding*,
so a hit says how the identifier was stored.

Encodings (docs: README.md):

* ``utf8``, ``utf16le``, ``utf16be``: the text (ASCII letters case-insensitively);
* ``hex``: the hex digits of the UTF-8 text, either case;
* ``base64``, ``base64url``: the text's bytes inside base64, at each of the three alignments a
  value can have within a longer encoded blob (the characters that depend on neighbouring bytes
  are left out);
* ``url``: percent-encoded (``anna%40example.com``);
* ``uuid-bytes``, ``uuid-hex``, ``uuid-base64``, ``uuid-base64url``: a UUID's 16 raw bytes and
  their encodings (its text form is ``utf8``);
* ``bcd-gt06-imei`` (8 bytes, a leading 0 nibble: the GT06 login), ``bcd-jt808-2013`` (6 bytes)
  and ``bcd-jt808-2019`` (10 bytes, the JT/T 808 header's terminal phone), ``bcd`` (packed,
  unpadded), ``jt808-imei48`` (an IMEI as the 48-bit number a JT/T 808 header can carry);
* ``hmac-bytes``, ``hmac-hex``, ``hmac-base64``, ``hmac-base64url``: the identifier HMAC ingest
  and identity publish instead of a device identifier.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from trackstream_events.pseudonyms import identifier_hmac
from trackstream_protocols.bcd import encode_bcd
from trackstream_residual_scan.subject import Identifier, IdentifierKind, Subject

#: a pattern shorter than this would match unrelated data
MIN_PATTERN_BYTES = 4
#: a base64 fragment shorter than this would match inside every token and certificate
MIN_BASE64_CHARS = 6


@dataclass(frozen=True, slots=True)
class Pattern:
    ref: str
    kind: IdentifierKind
    encoding: str
    data: bytes
    #: ASCII letters match in either case (text and hex encodings; never raw bytes)
    case_insensitive: bool = False

    @property
    def key(self) -> bytes:
        """What a match's bytes are compared with."""
        return self.data.lower() if self.case_insensitive else self.data


def derive_patterns(subject: Subject, *, identifier_key: bytes | None = None) -> list[Pattern]:
    """Every pattern of every identifier (and, with ``identifier_key``, of the identifier HMAC
    of each device identifier), without duplicates."""
    patterns: list[Pattern] = []
    seen: set[tuple[str, bytes, bool]] = set()
    for identifier in subject.identifiers:
        for pattern in _patterns_of(identifier, identifier_key):
            if len(pattern.data) < MIN_PATTERN_BYTES:
                continue
            dedup = (pattern.ref, pattern.key, pattern.case_insensitive)
            if dedup not in seen:
                seen.add(dedup)
                patterns.append(pattern)
    return patterns


def _patterns_of(identifier: Identifier, identifier_key: bytes | None) -> Iterator[Pattern]:
    kind = identifier.kind
    make = _maker(identifier.ref, kind)
    for text in _text_variants(identifier):
        yield from _text_patterns(text, make)
    uid = identifier.uuid if kind is IdentifierKind.ID else None
    if uid is not None:
        yield make("uuid-bytes", uid.bytes)
        yield make("uuid-hex", uid.hex.encode(), ci=True)
        yield from _base64_patterns(uid.bytes, make, prefix="uuid-")
    if kind in (IdentifierKind.DEVICE_IDENTIFIER, IdentifierKind.PHONE):
        yield from _digit_patterns(identifier.digits, make)
    if kind is IdentifierKind.DEVICE_IDENTIFIER and identifier_key is not None:
        hmac_ref = f"{IdentifierKind.IDENTIFIER_HMAC.value}:{identifier.index}"
        make_hmac = _maker(hmac_ref, IdentifierKind.IDENTIFIER_HMAC)
        digest = identifier_hmac(identifier_key, identifier.value)
        yield make_hmac("hmac-bytes", digest)
        yield make_hmac("hmac-hex", digest.hex().encode(), ci=True)
        yield from _base64_patterns(digest, make_hmac, prefix="hmac-")


_Make = Callable[..., Pattern]


def _maker(ref: str, kind: IdentifierKind) -> _Make:
    def make(encoding: str, data: bytes, *, ci: bool = False) -> Pattern:
        return Pattern(ref, kind, encoding, data, ci)

    return make


def _text_variants(identifier: Identifier) -> list[str]:
    """The spellings a store may hold, as given first."""
    value = identifier.value
    variants = [value, " ".join(value.split())]
    kind = identifier.kind
    uid = identifier.uuid if kind is IdentifierKind.ID else None
    if uid is not None:
        variants.append(str(uid))
    elif kind in (IdentifierKind.DEVICE_IDENTIFIER, IdentifierKind.PHONE):
        digits = identifier.digits
        # identity and ingest store digits only, without leading zeros (pseudonyms.py)
        variants += [digits, digits.lstrip("0")]
        if kind is IdentifierKind.PHONE:
            national = digits.lstrip("0")
            variants += [f"+{national}", f"00{national}"]
    elif kind is IdentifierKind.PLATE:
        variants.append("".join(ch for ch in value if ch.isalnum()))
    elif kind is IdentifierKind.EMAIL:
        variants.append(value.lower())
    return list(dict.fromkeys(v for v in variants if v))


def _text_patterns(text: str, make: _Make) -> Iterator[Pattern]:
    raw = text.encode()
    yield make("utf8", raw, ci=True)
    yield make("utf16le", text.encode("utf-16-le"), ci=True)
    yield make("utf16be", text.encode("utf-16-be"), ci=True)
    yield make("hex", binascii.hexlify(raw), ci=True)
    for quoted in (quote(text, safe=""), quote_plus(text, safe="")):
        if quoted != text:
            yield make("url", quoted.encode(), ci=True)
    yield from _base64_patterns(raw, make)


def _base64_patterns(data: bytes, make: _Make, *, prefix: str = "") -> Iterator[Pattern]:
    """``data`` inside a base64 blob: it starts at byte offset 0, 1 or 2 of a 3-byte group, and
    only the characters made of its own bits alone are fixed."""
    for shift in range(3):
        for name, encode in (
            ("base64", base64.b64encode),
            ("base64url", base64.urlsafe_b64encode),
        ):
            encoded = encode(b"\0" * shift + data)
            first = -(-8 * shift // 6)  # ceil: the first character without padding bits
            last = 8 * (shift + len(data)) // 6  # floor: past it the next byte's bits mix in
            fragment = encoded[first:last]
            if len(fragment) >= MIN_BASE64_CHARS:
                yield make(prefix + name, fragment)


def _digit_patterns(digits: str, make: _Make) -> Iterator[Pattern]:
    """IMEI and phone numbers in the binary forms the device protocols use."""
    for number in dict.fromkeys((digits, digits.lstrip("0"))):
        if not number:
            continue
        if 14 <= len(number) <= 16:  # an IMEI (14 digits + check digit, or IMEISV)
            yield make("bcd-gt06-imei", encode_bcd(number, 8))
        if len(number) <= 12:
            yield make("bcd-jt808-2013", encode_bcd(number, 6))
        if len(number) <= 20:
            yield make("bcd-jt808-2019", encode_bcd(number, 10))
        yield make("bcd", encode_bcd(number, (len(number) + 1) // 2))
    if len(digits) == 15 and int(digits[14]) == _luhn_digit(digits[:14]):
        # a JT/T 808 header whose 6 phone bytes are not BCD: the IMEI's first 14 digits as a
        # 48-bit number (the 15th is their Luhn digit), as some trackers send it
        value = int(digits[:14])
        if value < 1 << 48:
            yield make("jt808-imei48", value.to_bytes(6, "big"))


def _luhn_digit(digits: str) -> int:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10
