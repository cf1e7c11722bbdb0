"""Erasure (GDPR Art. 17) through the privacy service, and its certificates.

A device is erased by an ADMIN of the subtree that owns it (a shared device cannot be erased
by the account it is shared with). An account is erased by itself (its owner, whatever its
role) or by an ADMIN above it. The answer is 202 with the erasure's status; the status, and once
done the signed certificate (no personal data: the subject's HMAC and counts), stay readable by
whoever holds the request id at ``/v1/erasures/{request_id}``. The public keys that verify
certificates are at ``/v1/privacy/certificate-keys``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from gateway.api.problems import Problem, not_found
from gateway.api.schemas import Strict
from gateway.api.security import CallerDep, client_rate_limit, gateway_of
from gateway.domain import access
from gateway.domain.access import Forbidden, Need, NotVisible
from gateway.domain.model import Caller
from trackstream.privacy.v1 import privacy_service_pb2 as pb
from trackstream.privacy.v1.erasure_pb2 import ErasureRequested, SubjectKind
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1")
_KINDS = {
    SubjectKind.SUBJECT_KIND_ACCOUNT: "account",
    SubjectKind.SUBJECT_KIND_DEVICE: "device",
}
_STATES = {
    pb.ERASURE_STATE_IN_PROGRESS: "in_progress",
    pb.ERASURE_STATE_DONE: "done",
}


class ErasureCreate(Strict):
    #: a UUID chosen by the client makes a retried request the same erasure
    request_id: uuid.UUID | None = None
    reason: str = Field(default="", max_length=500)


def erasure_json(status: pb.ErasureStatus) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": status.request_id,
        "state": _STATES.get(status.state, "unknown"),
        "subject_kind": _KINDS.get(status.subject_kind, "unknown"),
        "requested_at": status.requested_at.ToJsonString(),
        "acknowledged": list(status.acknowledged),
        "pending": list(status.pending),
        "certificate": None,
    }
    if status.HasField("certificate"):
        certificate = status.certificate
        body["certificate"] = {
            "key_id": certificate.key_id,
            "signature": certificate.signature,
            # the exact bytes that were signed (verify over them), and the same parsed
            "signed_json": certificate.signed_json,
            "content": json.loads(certificate.signed_json),
        }
    return body


async def _request_erasure(
    request: Request,
    caller: Caller,
    kind: SubjectKind.ValueType,
    subject_id: str,
    body: ErasureCreate | None,
) -> JSONResponse:
    context = gateway_of(request)
    request_id = str(body.request_id if body and body.request_id else uuid.uuid4())
    status = await context.privacy.RequestErasure(
        ErasureRequested(
            request_id=request_id,
            subject_kind=kind,
            subject_id=subject_id,
            requested_by=caller.account_id,
            reason=body.reason if body else "",
            requested_at=to_timestamp(context.clock()),
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return JSONResponse(
        erasure_json(status),
        status_code=202,
        headers={"Location": f"/v1/erasures/{status.request_id}"},
    )


@router.post("/devices/{device_id}/erasure", tags=["privacy"], status_code=202)
async def erase_device(
    *, device_id: str, request: Request, body: ErasureCreate | None = None, caller: CallerDep
) -> JSONResponse:
    """Forget the device: its registry entry, positions, addresses, alarms, state and media,
    in every service (ADMIN of the owning subtree). Its identifier can be registered again
    afterwards, under a new device id."""
    context = gateway_of(request)
    access.check_device(context.directory, caller, device_id, Need.MANAGE, context.clock())
    return await _request_erasure(request, caller, SubjectKind.SUBJECT_KIND_DEVICE, device_id, body)


@router.post("/accounts/{account_id}/erasure", tags=["privacy"], status_code=202)
async def erase_account(
    *, account_id: str, request: Request, body: ErasureCreate | None = None, caller: CallerDep
) -> JSONResponse:
    """Forget the account and every device it owns (the account itself, or an ADMIN above
    it). An account with sub-accounts is refused: erase or move them first."""
    context = gateway_of(request)
    if account_id == caller.account_id:
        access.caller_node(context.directory, caller)
        if caller.read_only:
            raise Problem(403, "a read-only API key cannot erase", slug="forbidden")
    else:
        access.check_account(context.directory, caller, account_id, Need.MANAGE)
    return await _request_erasure(
        request, caller, SubjectKind.SUBJECT_KIND_ACCOUNT, account_id, body
    )


@router.get("/erasures/{request_id}", tags=["privacy"], dependencies=[Depends(client_rate_limit)])
async def get_erasure(*, request_id: str, request: Request) -> JSONResponse:
    """The erasure's progress; once done, its signed certificate. The request id (a random
    UUID, known to whoever asked) is the capability: the answer holds no personal data, and an
    account that erased itself can no longer log in to read it."""
    context = gateway_of(request)
    try:
        uuid.UUID(request_id)
    except ValueError:
        raise not_found("erasure") from None
    status = await context.privacy.GetErasure(
        pb.GetErasureRequest(request_id=request_id), timeout=context.settings.backend_timeout_s
    )
    return JSONResponse(erasure_json(status))


@router.get("/privacy/certificate-keys", tags=["privacy"])
async def certificate_keys(request: Request) -> Response:
    """The public keys (JWKS) that verify erasure certificates (Ed25519 over ``signed_json``)."""
    context = gateway_of(request)
    keys = await context.privacy.GetCertificateKeys(
        pb.GetCertificateKeysRequest(), timeout=context.settings.backend_timeout_s
    )
    return Response(
        keys.jwks_json,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


# ---------------------------------------------------------------------- exports (Art. 15/20)

_EXPORT_STATES = {
    pb.EXPORT_STATE_RUNNING: "running",
    pb.EXPORT_STATE_READY: "ready",
    pb.EXPORT_STATE_FAILED: "failed",
}


class ExportCreate(Strict):
    #: a UUID chosen by the client makes a retried request the same export
    export_id: uuid.UUID | None = None


def export_json(status: pb.ExportStatus) -> dict[str, Any]:
    ready = status.state == pb.EXPORT_STATE_READY
    return {
        "export_id": status.export_id,
        "account_id": status.account_id,
        "state": _EXPORT_STATES.get(status.state, "unknown"),
        "requested_at": status.requested_at.ToJsonString(),
        "download_url": status.download_url if ready else None,
        "expires_at": status.expires_at.ToJsonString() if ready else None,
        "parts": [
            {"path": p.path, "records": p.records, "size_bytes": p.size_bytes, "sha256": p.sha256}
            for p in status.parts
        ],
        "error": status.error or None,
    }


def _may_read_account(request: Request, caller: Caller, account_id: str) -> None:
    """The account itself (any role: it is its own data) or an ADMIN above it."""
    context = gateway_of(request)
    if account_id == caller.account_id:
        access.caller_node(context.directory, caller)
    else:
        access.check_account(context.directory, caller, account_id, Need.MANAGE)


@router.post("/accounts/{account_id}/exports", tags=["privacy"], status_code=202)
async def export_account(
    *, account_id: str, request: Request, body: ExportCreate | None = None, caller: CallerDep
) -> JSONResponse:
    """An archive of everything held about the account (profile, devices it owns with their
    positions, alarms and media, subscriptions, deliveries, inbox): JSON and CSV, the media
    files, and a manifest with SHA-256; built in the background, then downloadable through a
    link that expires. The account itself or an ADMIN above it."""
    context = gateway_of(request)
    _may_read_account(request, caller, account_id)
    export_id = str(body.export_id if body and body.export_id else uuid.uuid4())
    status = await context.privacy.RequestExport(
        pb.RequestExportRequest(
            export_id=export_id, account_id=account_id, requested_by=caller.account_id
        ),
        timeout=context.settings.backend_timeout_s,
    )
    return JSONResponse(
        export_json(status),
        status_code=202,
        headers={"Location": f"/v1/exports/{status.export_id}"},
    )


@router.get("/exports/{export_id}", tags=["privacy"])
async def get_export(*, export_id: str, request: Request, caller: CallerDep) -> JSONResponse:
    """The export's state; once ready, its download link and parts."""
    context = gateway_of(request)
    try:
        uuid.UUID(export_id)
    except ValueError:
        raise not_found("export") from None
    status = await context.privacy.GetExport(
        pb.GetExportRequest(export_id=export_id), timeout=context.settings.backend_timeout_s
    )
    if caller.account_id not in (status.account_id, status.requested_by):
        try:  # an ADMIN above the account
            access.check_account(context.directory, caller, status.account_id, Need.MANAGE)
        except (NotVisible, Forbidden):
            raise not_found("export") from None
    return JSONResponse(export_json(status))
