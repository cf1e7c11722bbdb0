"""Who is calling: an access token (Bearer JWT, verified locally with identity's keys), or an
API key (``Authorization: Bearer tsk_...`` or ``X-API-Key``, checked against the SHA-256 that
identity publishes). Then the rate limit of that credential."""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.problems import Problem
from gateway.context import GatewayContext
from gateway.domain import access
from gateway.domain.model import Caller
from trackstream_auth import InvalidToken, MalformedApiKey, key_id_of, matches

bearer_scheme = HTTPBearer(
    auto_error=False, description="An access token (JWT) from /v1/auth/token, or an API key"
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key (tsk_...)"
)


def gateway_of(request: Request) -> GatewayContext:
    context: GatewayContext = request.app.state.gateway
    return context


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        slug="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def resolve_credential(context: GatewayContext, credential: str) -> Caller:
    """The caller a token or key stands for; 401 when it does not stand for anyone (now)."""
    now = context.clock()
    directory = context.directory
    if credential.startswith("tsk_"):
        try:
            key_id = key_id_of(credential)
        except MalformedApiKey:
            raise unauthenticated("not a valid API key") from None
        entry = directory.api_keys.get(key_id)
        if entry is None or not matches(credential, entry.secret_sha256):
            raise unauthenticated("not a valid API key")
        if entry.expires_at is not None and entry.expires_at <= now:
            raise unauthenticated("the API key has expired")
        return Caller(
            account_id=entry.account_id,
            credential_id=key_id,
            via_api_key=True,
            read_only=entry.read_only,
            expires_at=entry.expires_at,
        )
    await context.keys.refresh_for(credential)
    try:
        claims = context.keys.verifier.verify_access(credential, now=now)
    except InvalidToken:
        raise unauthenticated("the access token is not valid or has expired") from None
    if claims.expires_at <= now:  # at once, as the WebSocket closes: no leeway on expiry
        raise unauthenticated("the access token is not valid or has expired")
    if directory.is_revoked(claims.session_id):
        raise unauthenticated("the session was revoked")
    if claims.account_id not in directory.accounts:
        # erased (its tombstone is in): its sessions' revocations went with it
        raise unauthenticated("the account no longer exists")
    return Caller(
        account_id=claims.account_id,
        credential_id=claims.session_id,
        expires_at=claims.expires_at,
    )


def rate_limit(context: GatewayContext, key: str, response: Response | None) -> None:
    decision = context.limiter.take(key, time.monotonic())
    window = math.ceil(decision.limit / context.limiter.rate)
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset_s)),
        "RateLimit-Policy": f"{decision.limit};w={window}",
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s)))
        raise Problem(429, "too many requests; slow down", slug="rate-limited", headers=headers)
    if response is not None:
        response.headers.update(headers)


async def authenticated(
    request: Request,
    response: Response,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Caller:
    context = gateway_of(request)
    credential = api_key or (bearer.credentials if bearer is not None else None)
    if not credential:
        raise unauthenticated("an access token or an API key is required")
    caller = await resolve_credential(context, credential)
    rate_limit(context, f"cred:{caller.credential_id}", response)
    access.caller_node(context.directory, caller)  # disabled accounts are refused
    request.state.caller = caller
    return caller


def client_rate_limit(request: Request, response: Response) -> None:
    """Unauthenticated endpoints (login, refresh, share links): limited per client address."""
    host = request.client.host if request.client else "unknown"
    rate_limit(gateway_of(request), f"addr:{host}", response)


CallerDep = Annotated[Caller, Depends(authenticated)]
