"""An erasure's life, without I/O: who must still acknowledge what, when to re-send, and the
privacy service's own acknowledgement for the topics that age out by retention."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from privacy.domain.plan import PARTICIPANT_STORES, RetentionTopic
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureOrdered,
    StoreErased,
    SubjectKind,
)
from trackstream_events.timestamps import to_timestamp

PRIVACY_PARTICIPANT = "privacy"


class InvalidErasure(ValueError):
    """A request that cannot be carried out as asked (the reason is safe to show)."""


class UnknownSubject(LookupError):
    """No account or device with that id."""


def subject_hash(ledger_key: bytes, subject_id: str) -> str:
    """What the ledger and the certificate keep of a subject id: an HMAC, never the id."""
    return hmac.new(ledger_key, subject_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Subject:
    """Everything an order covers, as resolved from the registry and the account tree."""

    kind: SubjectKind.ValueType
    subject_id: str
    device_ids: tuple[str, ...]
    account_ids: tuple[str, ...]


def resolve_subject(
    kind: SubjectKind.ValueType,
    subject_id: str,
    *,
    device_owner: Mapping[str, str],
    account_parent: Mapping[str, str],
) -> Subject:
    """A device is itself; an account is itself and every device it owns. An account with
    sub-accounts is refused: they are separate subjects, erased (or moved) first."""
    if not subject_id:
        raise InvalidErasure("subject_id is required")
    if kind == SubjectKind.SUBJECT_KIND_DEVICE:
        if subject_id not in device_owner:
            raise UnknownSubject(f"no device {subject_id}")
        return Subject(kind, subject_id, (subject_id,), ())
    if kind == SubjectKind.SUBJECT_KIND_ACCOUNT:
        if subject_id not in account_parent:
            raise UnknownSubject(f"no account {subject_id}")
        if not account_parent[subject_id]:
            raise InvalidErasure("the platform account cannot be erased")
        children = sorted(a for a, parent in account_parent.items() if parent == subject_id)
        if children:
            raise InvalidErasure(
                f"the account has {len(children)} sub-account(s): erase or move them first"
            )
        devices = tuple(sorted(d for d, owner in device_owner.items() if owner == subject_id))
        return Subject(kind, subject_id, devices, (subject_id,))
    raise InvalidErasure("subject_kind must be ACCOUNT or DEVICE")


def missing_stores(
    acks: Mapping[str, ErasureAcknowledged],
    plan: Mapping[str, tuple[str, ...]] = PARTICIPANT_STORES,
) -> dict[str, list[str]]:
    """Per participant, the planned stores its latest acknowledgement does not cover (a
    participant that has not answered at all misses every store)."""
    missing: dict[str, list[str]] = {}
    for participant, stores in plan.items():
        ack = acks.get(participant)
        acknowledged = {s.store for s in ack.stores} if ack else set()
        gaps = [s for s in stores if s not in acknowledged]
        if gaps:
            missing[participant] = gaps
    return missing


def due_for_resend(last_ordered_at: datetime, now: datetime, interval: timedelta) -> bool:
    return now - last_ordered_at >= interval


def retention_acknowledgement(
    request_id: str, attempt: int, topics: Iterable[RetentionTopic], now: datetime
) -> ErasureAcknowledged:
    """The privacy service's own account of the delete-policy topics: nothing is written, the
    records expire within each topic's bound (retention + segment roll + a check)."""
    return ErasureAcknowledged(
        request_id=request_id,
        participant=PRIVACY_PARTICIPANT,
        stores=[
            StoreErased(
                store=f"kafka:{t.name}",
                mechanism="retention",
                deleted=0,
                physically_gone_by=to_timestamp(now + timedelta(milliseconds=t.bound_ms)),
            )
            for t in topics
        ],
        erased_at=to_timestamp(now),
        attempt=attempt,
    )


@dataclass(slots=True)
class Erasure:
    """One ledger entry as the handlers see it."""

    request_id: str
    subject_kind: SubjectKind.ValueType
    subject_hash: str
    requested_by: str
    requested_at: datetime
    #: the order while in progress; None once done (it names the subject)
    order: ErasureOrdered | None
    last_ordered_at: datetime
    done: bool = False
    certificate: bytes | None = None
    acks: dict[str, ErasureAcknowledged] = field(default_factory=dict)
