"""The eraser with fakes: write before destroy, idempotent requests, re-sends, one certificate."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from privacy.domain.certificate import verify_certificate
from privacy.domain.erasure import InvalidErasure, UnknownSubject
from privacy.domain.plan import retention_topics
from privacy.handlers import ORDERS_TOPIC, REQUESTS_TOPIC, Directory, Eraser, status_message
from services.privacy.tests.unit.conftest import Clock, FakeLedger
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureCertificate,
    ErasureOrdered,
    ErasureRequested,
    StoreErased,
    SubjectKind,
)
from trackstream.privacy.v1.privacy_service_pb2 import ErasureState
from trackstream_auth import SigningKey, jwks_json, parse_jwks
from trackstream_testing import FakePublisher

PLAN = {"history": ("cassandra:a", "cassandra:b"), "media": ("s3:m",)}
KEY = SigningKey.generate()


def _world() -> tuple[Eraser, FakeLedger, FakePublisher, Clock]:
    directory = Directory()
    directory.account_changed("root", AccountChanged(account_id="root"))
    directory.account_changed("acc-1", AccountChanged(account_id="acc-1", parent_account_id="root"))
    directory.account_changed("acc-2", AccountChanged(account_id="acc-2", parent_account_id="root"))
    directory.account_changed(
        "acc-3", AccountChanged(account_id="acc-3", parent_account_id="acc-2")
    )
    for device, owner in (("dev-1", "acc-1"), ("dev-2", "acc-1"), ("dev-3", "acc-2")):
        directory.device_changed(device, DeviceRegistered(device_id=device, owner_account_id=owner))
    ledger, publisher, clock = FakeLedger(), FakePublisher(), Clock()
    eraser = Eraser(
        ledger=ledger,  # type: ignore[arg-type]
        publisher=publisher,  # type: ignore[arg-type]
        directory=directory,
        signing_key=KEY,
        ledger_key=b"k",
        retention=retention_topics(),
        resend_interval=timedelta(seconds=30),
        lookup_grace=timedelta(seconds=0.2),
        plan=PLAN,
        clock=clock,
    )
    return eraser, ledger, publisher, clock


def _request(kind: Any, subject: str, by: str = "admin") -> ErasureRequested:
    return ErasureRequested(
        request_id=str(uuid.uuid4()), subject_kind=kind, subject_id=subject, requested_by=by
    )


def _ack(request_id: str, participant: str, attempt: int = 1) -> ErasureAcknowledged:
    return ErasureAcknowledged(
        request_id=request_id,
        participant=participant,
        stores=[StoreErased(store=s, deleted=1) for s in PLAN[participant]],
        attempt=attempt,
    )


async def test_an_account_erasure_is_ledgered_before_it_is_ordered_and_covers_its_devices() -> None:
    eraser, ledger, publisher, _ = _world()
    publisher.fail_next = RuntimeError("kafka down")  # the order cannot go out ...
    request = _request(SubjectKind.SUBJECT_KIND_ACCOUNT, "acc-1", by="acc-1")
    with pytest.raises(RuntimeError):
        await eraser.request(request)
    row = ledger.rows[request.request_id]  # ... but the ledger already has it
    assert row.order is not None and list(row.order.device_ids) == ["dev-1", "dev-2"]
    assert list(row.order.account_ids) == ["acc-1"]
    assert "acc-1" not in row.subject_hash and len(row.subject_hash) == 64
    assert ledger.pending_ids == {request.request_id}


async def test_the_same_request_twice_orders_once_and_bad_requests_are_refused() -> None:
    eraser, _, publisher, _ = _world()
    request = _request(SubjectKind.SUBJECT_KIND_DEVICE, "dev-3")
    first = await eraser.request(request)
    again = await eraser.request(request)
    assert first.request_id == again.request_id
    assert len(publisher.on(ORDERS_TOPIC)) == 1
    with pytest.raises(UnknownSubject):
        await eraser.request(_request(SubjectKind.SUBJECT_KIND_DEVICE, "dev-404"))
    # a device registered a moment ago, still on its way through Kafka, is waited for
    late = asyncio.get_running_loop().call_later(
        0.05,
        eraser._directory.device_changed,
        "dev-new",
        DeviceRegistered(device_id="dev-new", owner_account_id="acc-2"),
    )
    found = await eraser.request(_request(SubjectKind.SUBJECT_KIND_DEVICE, "dev-new"))
    late.cancel()
    assert found.order is not None and list(found.order.device_ids) == ["dev-new"]
    with pytest.raises(InvalidErasure, match="1 sub-account"):
        await eraser.request(_request(SubjectKind.SUBJECT_KIND_ACCOUNT, "acc-2"))
    with pytest.raises(InvalidErasure, match="platform account"):
        await eraser.request(_request(SubjectKind.SUBJECT_KIND_ACCOUNT, "root"))
    with pytest.raises(InvalidErasure, match="UUID"):
        await eraser.request(
            ErasureRequested(
                request_id="x", subject_id="dev-3", subject_kind=SubjectKind.SUBJECT_KIND_DEVICE
            )
        )


async def test_overdue_orders_are_re_sent_until_every_store_is_acked_then_certified_once() -> None:
    eraser, ledger, publisher, clock = _world()
    request = _request(SubjectKind.SUBJECT_KIND_ACCOUNT, "acc-1", by="acc-1")
    await eraser.request(request)
    rid = request.request_id
    await eraser.acknowledged(_ack(rid, "history"))
    clock.now += timedelta(seconds=10)
    await eraser.sweep()
    assert len(publisher.on(ORDERS_TOPIC)) == 1  # not overdue yet
    clock.now += timedelta(seconds=25)
    await eraser.sweep()
    orders = [p.message for p in publisher.on(ORDERS_TOPIC)]
    assert [o.attempt for o in orders if isinstance(o, ErasureOrdered)] == [1, 2]
    # an acknowledgement missing a planned store does not complete the erasure
    partial = _ack(rid, "media", attempt=2)
    del partial.stores[:]
    await eraser.acknowledged(partial)
    assert ledger.completions == 0
    status = status_message(await ledger.get(rid), PLAN)  # type: ignore[arg-type]
    assert status.state == ErasureState.ERASURE_STATE_IN_PROGRESS
    assert list(status.pending) == ["media"]
    await eraser.acknowledged(_ack(rid, "media", attempt=2))
    await eraser.acknowledged(_ack(rid, "media", attempt=2))  # a duplicate: still one
    await eraser.sweep()
    assert ledger.completions == 1
    row = ledger.rows[rid]
    assert row.done and row.order is None and row.requested_by.startswith("hmac:")
    certificate = ErasureCertificate.FromString(row.certificate or b"")
    assert verify_certificate(certificate, parse_jwks(jwks_json([KEY])))
    assert {a.participant for a in certificate.acknowledgements} == {"history", "media", "privacy"}
    assert certificate.device_count == 2 and certificate.account_count == 1
    assert "acc-1" not in certificate.signed_json and "dev-1" not in certificate.signed_json
    # the order and the request (which name the subject) are tombstoned, the pending row gone
    assert [p.key for p in publisher.on(ORDERS_TOPIC) if p.message is None] == [rid]
    assert [p.key for p in publisher.on(REQUESTS_TOPIC) if p.message is None] == [rid]
    assert ledger.pending_ids == set()


async def test_a_crash_after_the_certificate_still_closes_the_erasure_on_the_next_sweep() -> None:
    eraser, ledger, publisher, _ = _world()
    request = _request(SubjectKind.SUBJECT_KIND_DEVICE, "dev-3")
    await eraser.request(request)
    await eraser.acknowledged(_ack(request.request_id, "history"))
    publisher.fail_next = RuntimeError("crash before the tombstones")
    with pytest.raises(RuntimeError):
        await eraser.acknowledged(_ack(request.request_id, "media"))
    assert ledger.completions == 1 and ledger.pending_ids == {request.request_id}
    await eraser.sweep()
    assert ledger.completions == 1  # still exactly one certificate
    assert ledger.pending_ids == set()
    assert [p.key for p in publisher.on(ORDERS_TOPIC) if p.message is None] == [request.request_id]
