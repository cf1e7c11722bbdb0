"""The matcher over joined fields, Cassandra cell forms, the report digest, the closure and the
command line's handling of bad input."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import OrderedDict
from decimal import Decimal
from ipaddress import IPv4Address
from pathlib import Path
from typing import NamedTuple

import pytest
from cassandra.util import Date, SortedSet

from libs.residualscan.tests.subjects import fresh_closure, fresh_subject
from trackstream_residual_scan.__main__ import main
from trackstream_residual_scan.cells import cell_forms
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import Pattern, derive_patterns
from trackstream_residual_scan.report import Hit, HitCollector, hits_sha256
from trackstream_residual_scan.subject import IdentifierKind, SubjectError, parse_subject

SUBJECT = fresh_subject(3)
MATCHER = Matcher(derive_patterns(SUBJECT))
DEVICE = SUBJECT.of_kind(IdentifierKind.ID)[1].value
EMAIL = SUBJECT.of_kind(IdentifierKind.EMAIL)[0].value


def test_fields_are_searched_as_one_buffer_and_mapped_back() -> None:
    fields = [
        ("key", DEVICE.encode()),
        ("value", b"\x0a\x24" + uuid.UUID(DEVICE).bytes),
        ("header:ce_id", b"nothing here"),
        ("header:owner", b"<" + EMAIL.lower().encode() + b">"),
    ]
    got = {
        (m.field, m.pattern.ref, m.pattern.encoding, m.offset)
        for m in MATCHER.find_in_fields(fields)
    }
    assert got == {
        ("key", "id:1", "utf8", 0),
        ("value", "id:1", "uuid-bytes", 2),
        ("header:owner", "email:0", "utf8", 1),
    }


def test_a_match_across_two_fields_is_no_match() -> None:
    half = len(DEVICE) // 2
    fields = [("a", DEVICE[:half].encode()), ("b", DEVICE[half:].encode())]
    assert MATCHER.find(b"".join(d for _, d in fields))  # joined, it would match
    assert MATCHER.find_in_fields(fields) == []


def test_overlapping_and_nested_identifiers_are_all_reported() -> None:
    inner = Pattern("a:0", IdentifierKind.ID, "utf8", b"12345678")
    outer = Pattern("b:0", IdentifierKind.ID, "utf8", b"0012345678")
    later = Pattern("c:0", IdentifierKind.ID, "utf8", b"5678abcd")
    matcher = Matcher([inner, outer, later])
    hits = sorted((offset, p.ref) for offset, p in matcher.find(b"xx0012345678abcdyy"))
    assert hits == [(2, "b:0"), (4, "a:0"), (8, "c:0")]
    # a 6-byte BCD phone is the tail of its 10-byte form; a prefix pattern starts where its
    # longer form does, and the automaton reports only the longer one there
    short = Pattern("s:0", IdentifierKind.PHONE, "bcd", b"\x01\x38\x00\x13")
    long = Pattern("l:0", IdentifierKind.PHONE, "bcd", b"\x01\x38\x00\x13\x80\x00")
    assert sorted(p.ref for _, p in Matcher([short, long]).find(b"\x01\x38\x00\x13\x80\x00")) == [
        "l:0",
        "s:0",
    ]


def test_case_insensitive_only_where_the_encoding_allows() -> None:
    raw = Pattern("r:0", IdentifierKind.ID, "uuid-bytes", b"AbCd\x00\x01")
    text = Pattern("t:0", IdentifierKind.EMAIL, "utf8", b"anna@x.org", case_insensitive=True)
    matcher = Matcher([raw, text])
    assert [p.ref for _, p in matcher.find(b"abcd\x00\x01 ANNA@X.ORG")] == ["t:0"]
    assert [p.ref for _, p in matcher.find(b"AbCd\x00\x01")] == ["r:0"]


def test_redact_replaces_identifiers_with_their_reference() -> None:
    key = f"media/{DEVICE}/photo-{EMAIL.upper()}.jpg"
    assert MATCHER.redact(key) == "media/<id:1>/photo-<email:0>.jpg"
    assert MATCHER.redact("nothing to hide") == "nothing to hide"


class Point(NamedTuple):  # what the driver returns for a user-defined type or a tuple
    label: str
    owner: uuid.UUID


def test_cell_forms_cover_text_blob_uuid_numbers_and_collections() -> None:
    device = uuid.UUID(DEVICE)
    assert list(cell_forms(DEVICE)) == [DEVICE.encode()]
    assert list(cell_forms(b"\x00\x01")) == [b"\x00\x01"]
    assert list(cell_forms(device)) == [device.bytes, str(device).encode()]
    assert list(cell_forms(356938035643809)) == [b"356938035643809"]
    assert list(cell_forms(Decimal("12.50"))) == [b"12.50"]
    assert list(cell_forms(IPv4Address("10.0.0.1"))) == [b"10.0.0.1"]
    assert list(cell_forms(OrderedDict([("k", device)]))) == [
        b"k",
        device.bytes,
        str(device).encode(),
    ]
    assert list(cell_forms(SortedSet(["b", "a"]))) == [b"a", b"b"]
    assert list(cell_forms([Point("p", device)])) == [b"p", device.bytes, str(device).encode()]
    assert list(cell_forms(True)) == []
    assert list(cell_forms(Date(20000))) == []
    assert list(cell_forms(None)) == []


def _hit(offset: int, encoding: str = "utf8") -> Hit:
    return Hit(
        "kafka",
        (("topic", "t"), ("partition", 0), ("offset", offset)),
        "value",
        "id:1",
        "id",
        encoding,
        1,
    )


def test_hit_digest_is_stable_and_sensitive() -> None:
    a, b = _hit(1), _hit(2)
    assert hits_sha256([a, b]) == hits_sha256([b, a])
    assert hits_sha256([a, b]) != hits_sha256([a, _hit(2, "hex")])
    assert hits_sha256([]) == hashlib.sha256(b"[]").hexdigest()


def test_collector_counts_occurrences_per_location_field_and_encoding() -> None:
    collector = HitCollector("s3")
    pattern = derive_patterns(SUBJECT)[0]
    location = (("bucket", "b"), ("key", "k"))
    collector.add(location, "content", pattern)
    collector.add(location, "content", pattern)
    collector.add(location, "key", pattern)
    assert sorted((h.field, h.occurrences) for h in collector.hits()) == [
        ("content", 2),
        ("key", 1),
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"emails": ["a@b"]}, "at least 4"),
        ({"emails": ["not-an-address"]}, "not an e-mail"),
        ({"phones": ["call me"]}, "at least 4 digits"),
        ({"ids": "one"}, "list of strings"),
        ({"imei": ["356938035643809"]}, "unknown fields"),
        ({}, "no identifier"),
        ([], "JSON object"),
    ],
)
def test_unusable_closures_are_refused_without_echoing_the_value(
    document: object, message: str
) -> None:
    with pytest.raises(SubjectError, match=message) as refused:
        parse_subject(document)
    assert "356938035643809" not in str(refused.value) and "a@b" not in str(refused.value)


def test_duplicates_are_dropped_and_references_numbered_per_kind() -> None:
    subject = parse_subject({"ids": ["abcd-1", "abcd-1", "abcd-2"], "names": ["Anna Beta"]})
    assert [i.ref for i in subject.identifiers] == ["id:0", "id:1", "name:0"]


def test_cli_refuses_bad_input_with_exit_2_before_touching_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "closure.json"
    bad.write_text('{"emails": ["x"]}')
    assert main(["--subject", str(bad)]) == 2
    assert "at least 4" in capsys.readouterr().err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(fresh_closure(4)))
    assert main(["--subject", str(good), "--stores", "kafka,tape"]) == 2
    assert "unknown ['tape']" in capsys.readouterr().err
    assert main(["--subject", str(tmp_path / "missing.json")]) == 2


def test_a_label_holding_an_identifier_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    closure = fresh_closure(5)
    path = tmp_path / "closure.json"
    path.write_text(json.dumps(closure))
    email = closure["emails"][0]
    assert main(["--subject", str(path), "--label", f"erasure of {email}"]) == 2
    err = capsys.readouterr().err
    assert "label contains one of the subject's identifiers" in err and email not in err
