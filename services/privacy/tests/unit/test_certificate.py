from __future__ import annotations

from datetime import UTC, datetime, timedelta

from privacy.domain.certificate import canonical_json, issue_certificate, verify_certificate
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureCertificate,
    StoreErased,
    SubjectKind,
)
from trackstream_auth import SigningKey, parse_jwks
from trackstream_auth.keys import jwks_json
from trackstream_events.timestamps import to_timestamp

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _ack(participant: str, store: str, gone_by: datetime) -> ErasureAcknowledged:
    return ErasureAcknowledged(
        request_id="r-1",
        participant=participant,
        stores=[StoreErased(store=store, deleted=3, physically_gone_by=to_timestamp(gone_by))],
        erased_at=to_timestamp(NOW),
        attempt=1,
    )


def _certificate(key: SigningKey) -> ErasureCertificate:
    return issue_certificate(
        request_id="r-1",
        subject_kind=SubjectKind.SUBJECT_KIND_DEVICE,
        subject_hash="ab" * 32,
        requested_at=NOW - timedelta(seconds=5),
        logically_erased_at=NOW,
        acknowledgements=[
            _ack("media", "s3:trackstream-media", NOW),
            _ack("history", "cassandra:positions_by_device_day", NOW + timedelta(days=10)),
        ],
        device_count=1,
        account_count=0,
        key=key,
    )


def test_a_certificate_verifies_with_the_published_key_and_bounds_every_store() -> None:
    key = SigningKey.generate()
    certificate = _certificate(key)
    assert verify_certificate(certificate, parse_jwks(jwks_json([key])))
    assert certificate.physically_erased_by.ToDatetime(tzinfo=UTC) == NOW + timedelta(days=10)
    assert [a.participant for a in certificate.acknowledgements] == ["history", "media"]
    assert '"subject_hash":"' + "ab" * 32 in certificate.signed_json
    assert canonical_json(certificate) == certificate.signed_json


def test_an_edited_certificate_or_a_foreign_key_does_not_verify() -> None:
    key = SigningKey.generate()
    keys = parse_jwks(jwks_json([key]))
    edited = _certificate(key)
    edited.acknowledgements[0].stores[0].deleted = 0  # content no longer what was signed
    assert not verify_certificate(edited, keys)
    forged = _certificate(key)
    forged.signed_json = forged.signed_json.replace('"deleted":"3"', '"deleted":"4"')
    assert not verify_certificate(forged, keys)
    assert not verify_certificate(_certificate(SigningKey.generate()), keys)
