"""Erasure certificates: canonical JSON, signed with Ed25519, verifiable with the public JWKS.

The signed bytes are the certificate's own fields (without key id, signature and the signed
text) as protobuf JSON with sorted keys and no spaces; ``signed_json`` carries those bytes so a
verifier needs no protobuf at all: check the signature over ``signed_json``, then read it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.json_format import MessageToDict

from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureCertificate,
    SubjectKind,
)
from trackstream_auth import SigningKey
from trackstream_events.timestamps import to_timestamp


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(certificate: ErasureCertificate) -> str:
    body = ErasureCertificate()
    body.CopyFrom(certificate)
    body.ClearField("key_id")
    body.ClearField("signature")
    body.ClearField("signed_json")
    return json.dumps(
        MessageToDict(body, preserving_proto_field_name=True),
        sort_keys=True,
        separators=(",", ":"),
    )


def issue_certificate(
    *,
    request_id: str,
    subject_kind: SubjectKind.ValueType,
    subject_hash: str,
    requested_at: datetime,
    logically_erased_at: datetime,
    acknowledgements: list[ErasureAcknowledged],
    device_count: int,
    account_count: int,
    key: SigningKey,
) -> ErasureCertificate:
    """The signed certificate; physically_erased_by is the latest bound of any store."""
    bounds = [
        store.physically_gone_by.ToDatetime(tzinfo=UTC)
        for ack in acknowledgements
        for store in ack.stores
        if store.HasField("physically_gone_by")
    ]
    certificate = ErasureCertificate(
        request_id=request_id,
        subject_kind=subject_kind,
        subject_hash=subject_hash,
        requested_at=to_timestamp(requested_at),
        logically_erased_at=to_timestamp(logically_erased_at),
        physically_erased_by=to_timestamp(max(bounds, default=logically_erased_at)),
        acknowledgements=sorted(acknowledgements, key=lambda a: a.participant),
        device_count=device_count,
        account_count=account_count,
    )
    signed = canonical_json(certificate)
    certificate.key_id = key.kid
    certificate.signature = _b64url(key.private_key.sign(signed.encode()))
    certificate.signed_json = signed
    return certificate


def verify_certificate(
    certificate: ErasureCertificate, public_keys: dict[str, Ed25519PublicKey]
) -> bool:
    """True when the signature holds over ``signed_json`` and ``signed_json`` is the
    certificate's own content (nothing edited after signing)."""
    key = public_keys.get(certificate.key_id)
    if key is None:
        return False
    try:
        key.verify(_b64url_decode(certificate.signature), certificate.signed_json.encode())
    except (InvalidSignature, ValueError):
        return False
    return canonical_json(certificate) == certificate.signed_json
