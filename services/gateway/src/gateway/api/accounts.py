"""Auth (tokens), accounts and sub-accounts, API keys."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from gateway.adapters.identity_records import node_of
from gateway.api.problems import Problem
from gateway.api.schemas import (
    KIND_VALUES,
    ROLE_VALUES,
    AccountCreate,
    AccountUpdate,
    ApiKeyCreate,
    RefreshRequest,
    RetentionUpdate,
    RevokeRequest,
    TokenRequest,
    account_json,
    api_key_json,
    retention_json,
    token_pair_json,
)
from gateway.api.security import CallerDep, client_rate_limit, gateway_of
from gateway.domain import access
from gateway.domain.access import Need
from gateway.domain.model import ApiKeyEntry
from gateway.domain.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1.accounts_pb2 import AccountRetention
from trackstream_auth.api_keys import digest
from trackstream_events.timestamps import to_timestamp

router = APIRouter(prefix="/v1")
PageSize = Query(ge=1, le=MAX_PAGE_SIZE)


def _timeout(request: Request) -> float:
    return gateway_of(request).settings.backend_timeout_s


# ---------------------------------------------------------------------- auth


@router.post("/auth/token", tags=["auth"], dependencies=[Depends(client_rate_limit)])
async def issue_token(*, body: TokenRequest, request: Request) -> dict[str, Any]:
    """Log in with e-mail and password: an access token and a refresh token."""
    context = gateway_of(request)
    pair = await context.identity.IssueToken(
        pb.IssueTokenRequest(email=body.email, password=body.password), timeout=_timeout(request)
    )
    return token_pair_json(pair)


@router.post("/auth/refresh", tags=["auth"], dependencies=[Depends(client_rate_limit)])
async def refresh_token(*, body: RefreshRequest, request: Request) -> dict[str, Any]:
    """A new pair for a refresh token (which is then used up)."""
    context = gateway_of(request)
    pair = await context.identity.RefreshToken(
        pb.RefreshTokenRequest(refresh_token=body.refresh_token), timeout=_timeout(request)
    )
    return token_pair_json(pair)


@router.post("/auth/revoke", tags=["auth"], status_code=204)
async def revoke_token(
    *, request: Request, body: RevokeRequest | None = None, caller: CallerDep
) -> Response:
    """End a session: the caller's own, or the one a refresh token belongs to. Its tokens are
    refused from the next request on, and its WebSockets close."""
    context = gateway_of(request)
    if body is not None and body.refresh_token:
        message = pb.RevokeTokenRequest(refresh_token=body.refresh_token)
    elif caller.via_api_key:
        raise Problem(400, "API keys are revoked with DELETE /v1/api-keys/{key_id}")
    else:
        message = pb.RevokeTokenRequest(session_id=caller.credential_id)
    revoked = await context.identity.RevokeToken(message, timeout=_timeout(request))
    credential = revoked.credential_id or caller.credential_id
    expires = (
        revoked.expires_time.ToDatetime(tzinfo=UTC) if revoked.HasField("expires_time") else None
    )
    context.directory.revoke(credential, expires)
    return Response(status_code=204)


# ---------------------------------------------------------------------- accounts


@router.get("/accounts/me", tags=["accounts"])
async def my_account(*, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    account = await context.identity.GetAccount(
        pb.GetAccountRequest(account_id=caller.account_id), timeout=_timeout(request)
    )
    return account_json(account)


@router.post("/accounts", tags=["accounts"], status_code=201)
async def create_account(
    *, body: AccountCreate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """A sub-account under ``parent_account_id`` (default: the caller's account)."""
    context = gateway_of(request)
    parent = body.parent_account_id or caller.account_id
    access.check_account(context.directory, caller, parent, Need.MANAGE)
    account = await context.identity.CreateAccount(
        pb.CreateAccountRequest(
            parent_account_id=parent,
            kind=KIND_VALUES[body.kind],  # type: ignore[arg-type]
            role=ROLE_VALUES[body.role],  # type: ignore[arg-type]
            email=body.email,
            phone=body.phone,
            display_name=body.display_name,
            password=body.password,
        ),
        timeout=_timeout(request),
    )
    context.directory.put_account(node_of(account))
    return account_json(account)


@router.get("/accounts/{account_id}", tags=["accounts"])
async def get_account(*, account_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_account(context.directory, caller, account_id, Need.READ)
    account = await context.identity.GetAccount(
        pb.GetAccountRequest(account_id=account_id), timeout=_timeout(request)
    )
    return account_json(account)


@router.patch("/accounts/{account_id}", tags=["accounts"])
async def update_account(
    *, account_id: str, body: AccountUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    access.check_self_change(
        caller, account_id, role=body.role is not None, disabled=body.disabled is not None
    )
    message = pb.UpdateAccountRequest(account_id=account_id)
    if body.display_name is not None:
        message.display_name = body.display_name
    if body.phone is not None:
        message.phone = body.phone
    if body.disabled is not None:
        message.disabled = body.disabled
    if body.role is not None:
        message.role = ROLE_VALUES[body.role]  # type: ignore[assignment]
    if body.password is not None:
        message.password = body.password
    account = await context.identity.UpdateAccount(message, timeout=_timeout(request))
    context.directory.put_account(node_of(account))
    return account_json(account)


@router.get("/accounts/{account_id}/sub-accounts", tags=["accounts"])
async def list_sub_accounts(
    *,
    account_id: str,
    request: Request,
    page_size: Annotated[int, PageSize] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[str, Query(max_length=512)] = "",
    caller: CallerDep,
) -> dict[str, Any]:
    context = gateway_of(request)
    access.check_account(context.directory, caller, account_id, Need.READ)
    response = await context.identity.ListSubAccounts(
        pb.ListSubAccountsRequest(
            parent_account_id=account_id, page_size=page_size, page_token=page_token
        ),
        timeout=_timeout(request),
    )
    return {
        "accounts": [account_json(a) for a in response.accounts],
        "next_page_token": response.next_page_token or None,
    }


@router.get("/accounts/{account_id}/retention", tags=["accounts"])
async def get_retention(*, account_id: str, request: Request, caller: CallerDep) -> dict[str, Any]:
    """How long the account's positions, alarms and media are kept, in days. Each kind:
    the account's own setting (null: not set) and, under ``effective``, what applies: the
    account's own, else the nearest ancestor's that sets it (``set_by``), else the platform's
    default (``days`` null; kept until deleted or erased when the platform sets none)."""
    context = gateway_of(request)
    node = access.check_account(context.directory, caller, account_id, Need.READ)
    return retention_json(node, context.directory.accounts.get)


@router.put("/accounts/{account_id}/retention", tags=["accounts"])
async def set_retention(
    *, account_id: str, body: RetentionUpdate, request: Request, caller: CallerDep
) -> dict[str, Any]:
    """Replace the account's own retention (its admin, or an admin above it). A kind absent
    or 0 is not set: inherited from the nearest ancestor that sets it, else the platform's
    default. Days are at most 7300 (Cassandra's longest TTL) and the platform's maximum when
    it sets one (422 above it). A shorter retention reaches the data already stored within
    the services' sweep interval; a longer one applies to data stored from now on."""
    context = gateway_of(request)
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    account = await context.identity.UpdateAccount(
        pb.UpdateAccountRequest(
            account_id=account_id,
            retention=AccountRetention(
                positions_days=body.positions_days or 0,
                alarms_days=body.alarms_days or 0,
                media_days=body.media_days or 0,
            ),
        ),
        timeout=_timeout(request),
    )
    node = node_of(account)
    context.directory.put_account(node)
    return retention_json(node, context.directory.accounts.get)


# ---------------------------------------------------------------------- API keys


@router.post("/api-keys", tags=["api-keys"], status_code=201)
async def create_api_key(
    *, body: ApiKeyCreate, request: Request, caller: CallerDep
) -> JSONResponse:
    """A key for an integrator; its secret is in this answer only."""
    context = gateway_of(request)
    account_id = body.account_id or caller.account_id
    access.check_account(context.directory, caller, account_id, Need.MANAGE)
    message = pb.CreateApiKeyRequest(
        account_id=account_id, name=body.name, read_only=body.read_only
    )
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            body.expires_at = body.expires_at.replace(tzinfo=UTC)
        if body.expires_at <= context.clock():
            raise Problem(422, "expires_at must lie in the future")
        message.expires_time.CopyFrom(to_timestamp(body.expires_at))
    created = await context.identity.CreateApiKey(message, timeout=_timeout(request))
    context.directory.put_api_key(
        ApiKeyEntry(
            key_id=created.key.key_id,
            account_id=created.key.account_id,
            secret_sha256=digest(created.secret),
            expires_at=body.expires_at,
            read_only=created.key.read_only,
        )
    )
    return JSONResponse(
        {"key": api_key_json(created.key), "secret": created.secret},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/api-keys", tags=["api-keys"])
async def list_api_keys(
    *,
    request: Request,
    account_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    caller: CallerDep,
) -> dict[str, Any]:
    context = gateway_of(request)
    target = account_id or caller.account_id
    access.check_account(context.directory, caller, target, Need.READ)
    response = await context.identity.ListApiKeys(
        pb.ListApiKeysRequest(account_id=target), timeout=_timeout(request)
    )
    return {"keys": [api_key_json(k) for k in response.keys]}


@router.delete("/api-keys/{key_id}", tags=["api-keys"], status_code=204)
async def revoke_api_key(*, key_id: str, request: Request, caller: CallerDep) -> Response:
    context = gateway_of(request)
    entry = context.directory.api_keys.get(key_id)
    if entry is None:
        raise access.NotVisible(key_id)
    access.check_account(context.directory, caller, entry.account_id, Need.MANAGE)
    await context.identity.RevokeApiKey(
        pb.RevokeApiKeyRequest(key_id=key_id), timeout=_timeout(request)
    )
    context.directory.remove_api_key(key_id)
    return Response(status_code=204)
