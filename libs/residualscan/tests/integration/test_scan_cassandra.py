"""Cassandra: a test keyspace with every kind of cell (text, uuid, blob, bigint, collections, a
user-defined type, a tuple), scanned by token range; the report names rows by primary key with
the identifiers in it replaced by their reference."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from cassandra.cluster import Session

from libs.residualscan.tests.subjects import IDENTIFIER_KEY, fresh_subject
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_residual_scan.matcher import Matcher
from trackstream_residual_scan.patterns import derive_patterns
from trackstream_residual_scan.stores.cassandra import CassandraScanError, scan_cassandra
from trackstream_residual_scan.subject import IdentifierKind, Subject

DAY = date(2026, 11, 29)
Found = set[tuple[str, str, str, str, str]]  # table, primary key, column, identifier, encoding


def _v(subject: Subject, kind: IdentifierKind, index: int = 0) -> str:
    return subject.of_kind(kind)[index].value


def _plant(session: Session, keyspace: str, subject: Subject) -> Found:
    account, device = (
        uuid.UUID(_v(subject, IdentifierKind.ID, 0)),
        _v(subject, IdentifierKind.ID, 1),
    )
    imei = _v(subject, IdentifierKind.DEVICE_IDENTIFIER, 0)
    email, phone = _v(subject, IdentifierKind.EMAIL), _v(subject, IdentifierKind.PHONE)
    insert = session.prepare(
        f"INSERT INTO {keyspace}.device_days (device_id, day, seq, owner, identifier_hmac, tags, "
        "attributes, shared_with, contact, label, odometer) "
        "VALUES (?, ?, 1, ?, ?, ?, ?, ?, {email: ?, phone: ?}, ?, 12.5)"
    )
    session.execute(
        insert,
        [
            device,
            DAY,
            account,
            identifier_hmac(IDENTIFIER_KEY, imei),
            ["ok", f"plate {_v(subject, IdentifierKind.PLATE)}"],
            {"driver": _v(subject, IdentifierKind.NAME)},
            {account},
            email.lower(),
            phone,
            ("imei", int(imei)),
        ],
    )
    session.execute(
        f"INSERT INTO {keyspace}.accounts_by_email (email, account_id) VALUES (%s, %s)",
        [email, account],
    )
    table = f"{keyspace}.device_days"
    row_key = json.dumps({"day": str(DAY), "device_id": "<id:1>", "seq": "1"}, sort_keys=True)
    by_email = json.dumps({"email": "<email:0>"})
    return {
        (table, row_key, "device_id", "id:1", "utf8"),
        (table, row_key, "owner", "id:0", "uuid-bytes"),
        (table, row_key, "owner", "id:0", "utf8"),  # a uuid cell also reads as its text
        (table, row_key, "identifier_hmac", "identifier_hmac:0", "hmac-bytes"),
        (table, row_key, "tags", "plate:0", "utf8"),
        (table, row_key, "attributes", "name:0", "utf8"),
        (table, row_key, "shared_with", "id:0", "uuid-bytes"),
        (table, row_key, "shared_with", "id:0", "utf8"),
        (table, row_key, "contact", "email:0", "utf8"),
        (table, row_key, "contact", "phone:0", "utf8"),
        (table, row_key, "label", "device_identifier:0", "utf8"),  # the IMEI kept in a bigint
        (f"{keyspace}.accounts_by_email", by_email, "email", "email:0", "utf8"),
        (f"{keyspace}.accounts_by_email", by_email, "account_id", "id:0", "uuid-bytes"),
        (f"{keyspace}.accounts_by_email", by_email, "account_id", "id:0", "utf8"),
    }


def _scan(session: Session, keyspace: str, subject: Subject) -> tuple[Found, dict[str, object]]:
    matcher = Matcher(derive_patterns(subject, identifier_key=IDENTIFIER_KEY))
    result = scan_cassandra(session, matcher, keyspaces=[keyspace], splits=16, fetch_size=2)
    assert result.errors == []
    found = {
        (
            str(dict(h.location)["table"]),
            str(dict(h.location)["primary_key"]),
            h.field,
            h.identifier,
            h.encoding,
        )
        for h in result.hits
    }
    return found, result.as_json()


def test_cassandra_positive_control_other_subject_and_removal(
    keyspace: tuple[Session, str],
) -> None:
    session, name = keyspace
    subject, other = fresh_subject(), fresh_subject()
    planted = _plant(session, name, subject)
    planted_other = _plant(session, name, other)
    for n in range(5):  # more rows than a page (fetch_size 2), none of them personal
        session.execute(
            f"INSERT INTO {name}.device_days (device_id, day, seq, tags) "
            "VALUES (%s, %s, %s, ['x'])",
            [f"filler-{n}", DAY, n],
        )

    found, report = _scan(session, name, subject)
    assert found == planted
    tables = {t["table"]: t for t in report["tables"]}  # type: ignore[attr-defined]
    assert tables[f"{name}.device_days"]["rows"] == 7
    assert tables[f"{name}.device_days"]["token_ranges"] == 16
    assert _scan(session, name, other)[0] == planted_other
    # the report shows where, never what: no identifier of the subject in it
    text = json.dumps(report) + json.dumps(sorted(found))
    assert not [i.value for i in subject.identifiers if i.value.lower() in text.lower()]

    device = _v(subject, IdentifierKind.ID, 1)
    session.execute(
        f"DELETE FROM {name}.device_days WHERE device_id = %s AND day = %s", [device, DAY]
    )
    session.execute(
        f"DELETE FROM {name}.accounts_by_email WHERE email = %s",
        [_v(subject, IdentifierKind.EMAIL)],
    )
    found, report = _scan(session, name, subject)
    assert found == set()
    assert _scan(session, name, other)[0] == planted_other
    assert sum(t["rows"] for t in report["tables"]) == 7  # type: ignore[attr-defined]


def test_unknown_keyspace_or_table_is_an_error(keyspace: tuple[Session, str]) -> None:
    session, name = keyspace
    matcher = Matcher(derive_patterns(fresh_subject()))
    with pytest.raises(CassandraScanError, match="no such keyspaces"):
        scan_cassandra(session, matcher, keyspaces=["no_such_keyspace_here"])
    with pytest.raises(CassandraScanError, match="no such tables"):
        scan_cassandra(session, matcher, keyspaces=[name], tables=["nope"])
    only = scan_cassandra(
        session, matcher, keyspaces=[name], tables=[f"{name}.accounts_by_email"], splits=2
    )
    assert [t.table for t in only.tables] == ["accounts_by_email"]
