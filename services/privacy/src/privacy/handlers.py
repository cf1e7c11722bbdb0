"""The privacy service's work: ledger a request, order it, gather acknowledgements, re-send
what is overdue, and issue exactly one signed certificate per erasure.

Write before destroy: the ledger row (with the order) is in Cassandra before the order goes to
Kafka, so a crash at any point leaves either nothing ordered, or a pending erasure that the
sweep re-sends. Participants are idempotent, so re-sending is always safe. The certificate is
stored with a conditional update; only the caller whose update applied tombstones the order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter

from privacy.adapters.ledger import Ledger
from privacy.domain.certificate import issue_certificate
from privacy.domain.erasure import (
    Erasure,
    InvalidErasure,
    Subject,
    UnknownSubject,
    missing_stores,
    resolve_subject,
    retention_acknowledgement,
    subject_hash,
)
from privacy.domain.plan import PARTICIPANT_STORES, RetentionTopic
from trackstream.identity.v1.accounts_pb2 import AccountChanged
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream.privacy.v1.erasure_pb2 import (
    ErasureAcknowledged,
    ErasureCertificate,
    ErasureOrdered,
    ErasureRequested,
)
from trackstream.privacy.v1.privacy_service_pb2 import ErasureState, ErasureStatus
from trackstream_auth import SigningKey
from trackstream_events.timestamps import set_timestamp
from trackstream_kafka import ConsumedEvent, EventPublisher

log = logging.getLogger(__name__)

REQUESTS_TOPIC = "privacy.erasure-requests.v1"
ORDERS_TOPIC = "privacy.erasure-orders.v1"
ACKS_TOPIC = "privacy.erasure-acks.v1"
ACCOUNTS = "identity.accounts.v1"
REGISTRY = "identity.device-registry.v1"

ERASURES = Counter(
    "trackstream_privacy_erasures_total",
    "Erasures by step: requested, ordered (incl. re-sends), certified.",
    ["step"],
)


class Directory:
    """Who owns which device and which account hangs under which, from the identity topics."""

    def __init__(self) -> None:
        self.device_owner: dict[str, str] = {}
        self.account_parent: dict[str, str] = {}

    def device_changed(self, device_id: str, device: DeviceRegistered | None) -> None:
        if device is None:
            self.device_owner.pop(device_id, None)
        else:
            self.device_owner[device_id] = device.owner_account_id

    def account_changed(self, account_id: str, account: AccountChanged | None) -> None:
        if account is None:
            self.account_parent.pop(account_id, None)
        else:
            self.account_parent[account_id] = account.parent_account_id


class Eraser:
    def __init__(
        self,
        *,
        ledger: Ledger,
        publisher: EventPublisher,
        directory: Directory,
        signing_key: SigningKey,
        ledger_key: bytes,
        retention: tuple[RetentionTopic, ...],
        resend_interval: timedelta,
        lookup_grace: timedelta = timedelta(seconds=3),
        plan: Mapping[str, tuple[str, ...]] = PARTICIPANT_STORES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._publisher = publisher
        self._directory = directory
        self._key = signing_key
        self._ledger_key = ledger_key
        self._retention = retention
        self._resend_interval = resend_interval
        self._lookup_grace = lookup_grace
        self._plan = plan
        self._clock = clock

    # --- requests ------------------------------------------------------------------------

    async def request(self, requested: ErasureRequested) -> Erasure:
        """Ledger and order an erasure; the same request id again returns the ledger entry."""
        try:
            request_id = str(uuid.UUID(requested.request_id))
        except ValueError:
            raise InvalidErasure("request_id must be a UUID") from None
        known = await self._ledger.get(request_id)
        if known is not None:
            return known
        subject = await self._resolve(requested)
        now = self._clock()
        requested_at = (
            requested.requested_at.ToDatetime(tzinfo=UTC)
            if requested.HasField("requested_at")
            else now
        )
        order = ErasureOrdered(
            request_id=request_id,
            subject_kind=subject.kind,
            subject_id=subject.subject_id,
            device_ids=subject.device_ids,
            account_ids=subject.account_ids,
            attempt=1,
        )
        set_timestamp(order.ordered_at, now)
        erasure = Erasure(
            request_id=request_id,
            subject_kind=subject.kind,
            subject_hash=subject_hash(self._ledger_key, subject.subject_id),
            requested_by=requested.requested_by,
            requested_at=requested_at,
            order=order,
            last_ordered_at=now,
        )
        if not await self._ledger.create(erasure):  # a concurrent request with the same id
            return await self._get(request_id)
        ERASURES.labels("requested").inc()
        await self._order(order)
        log.info(
            "erasure ordered",
            extra={"request_id": request_id, "devices": len(order.device_ids)},
        )
        return erasure

    async def _resolve(self, requested: ErasureRequested) -> Subject:
        """The subject from the identity topics; a subject created a moment ago may still be on
        its way through Kafka, so an unknown one is looked up again for ``lookup_grace``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lookup_grace.total_seconds()
        while True:
            try:
                return resolve_subject(
                    requested.subject_kind,
                    requested.subject_id,
                    device_owner=self._directory.device_owner,
                    account_parent=self._directory.account_parent,
                )
            except UnknownSubject:
                if loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _order(self, order: ErasureOrdered) -> None:
        await self._publisher.publish(ORDERS_TOPIC, order, key=order.request_id)
        ERASURES.labels("ordered").inc()

    async def _get(self, request_id: str) -> Erasure:
        erasure = await self._ledger.get(request_id)
        assert erasure is not None, request_id
        return erasure

    async def status(self, request_id: str) -> Erasure | None:
        return await self._ledger.get(request_id)

    # --- the event consumer --------------------------------------------------------------

    async def handle(self, event: ConsumedEvent) -> None:
        message = event.message
        if isinstance(message, ErasureRequested):
            await self.request(message)  # a bad request raises: dead-lettered with the reason
        elif isinstance(message, ErasureAcknowledged):
            await self.acknowledged(message)

    async def acknowledged(self, ack: ErasureAcknowledged) -> None:
        if ack.participant not in self._plan:
            log.warning(
                "acknowledgement from an unplanned participant",
                extra={"request_id": ack.request_id, "participant": ack.participant},
            )
            return
        erasure = await self._ledger.get(ack.request_id)
        if erasure is None or erasure.done:
            return
        await self._ledger.record_ack(ack)
        erasure.acks[ack.participant] = ack
        await self._advance(erasure)

    # --- progress ------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Every pending erasure: finish it when complete, re-send its order when overdue."""
        for request_id in await self._ledger.pending():
            erasure = await self._ledger.get(request_id)
            if erasure is None:
                await self._ledger.forget_pending(request_id)
                continue
            await self._advance(erasure, resend=True)

    async def _advance(self, erasure: Erasure, *, resend: bool = False) -> None:
        if erasure.done:
            await self._close(erasure.request_id)
            return
        if not missing_stores(erasure.acks, self._plan):
            await self._certify(erasure)
            return
        now = self._clock()
        if (
            resend
            and erasure.order is not None
            and now - erasure.last_ordered_at >= (self._resend_interval)
        ):
            order = ErasureOrdered()
            order.CopyFrom(erasure.order)
            order.attempt = max(order.attempt, 1) + 1
            set_timestamp(order.ordered_at, now)
            await self._ledger.reordered(erasure.request_id, order.attempt, now)
            await self._order(order)
            log.info(
                "erasure re-sent",
                extra={
                    "request_id": erasure.request_id,
                    "attempt": order.attempt,
                    "waiting_for": sorted(missing_stores(erasure.acks, self._plan)),
                },
            )

    async def _certify(self, erasure: Erasure) -> None:
        assert erasure.order is not None
        now = self._clock()
        acks = [erasure.acks[p] for p in self._plan]
        acks.append(retention_acknowledgement(erasure.request_id, 1, self._retention, now))
        certificate = issue_certificate(
            request_id=erasure.request_id,
            subject_kind=erasure.subject_kind,
            subject_hash=erasure.subject_hash,
            requested_at=erasure.requested_at,
            logically_erased_at=max(a.erased_at.ToDatetime(tzinfo=UTC) for a in acks),
            acknowledgements=acks,
            device_count=len(erasure.order.device_ids),
            account_count=len(erasure.order.account_ids),
            key=self._key,
        )
        requested_by = erasure.requested_by
        if requested_by in erasure.order.account_ids:  # the subject asked: keep only its HMAC
            requested_by = "hmac:" + subject_hash(self._ledger_key, requested_by)
        if await self._ledger.complete(
            erasure.request_id, certificate.SerializeToString(), requested_by, now
        ):
            ERASURES.labels("certified").inc()
            log.info("erasure certified", extra={"request_id": erasure.request_id})
        await self._close(erasure.request_id)

    async def _close(self, request_id: str) -> None:
        """After the certificate: the request and the order (which name the subject) go."""
        await self._publisher.publish_tombstones(ORDERS_TOPIC, [request_id])
        await self._publisher.publish_tombstones(REQUESTS_TOPIC, [request_id])
        await self._ledger.forget_pending(request_id)


def status_message(erasure: Erasure, plan: Mapping[str, tuple[str, ...]]) -> ErasureStatus:
    missing = missing_stores(erasure.acks, plan)
    status = ErasureStatus(
        request_id=erasure.request_id,
        state=(
            ErasureState.ERASURE_STATE_DONE
            if erasure.done
            else ErasureState.ERASURE_STATE_IN_PROGRESS
        ),
        subject_kind=erasure.subject_kind,
        acknowledged=sorted(p for p in plan if p not in missing),
        pending=sorted(missing),
        requested_by=erasure.requested_by,
    )
    set_timestamp(status.requested_at, erasure.requested_at)
    if erasure.certificate:
        status.certificate.CopyFrom(ErasureCertificate.FromString(erasure.certificate))
        status.ClearField("pending")
        status.acknowledged[:] = sorted(plan)
    return status
