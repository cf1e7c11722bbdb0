"""Public share links: no login, one device, read-only. A link that is expired, revoked, or for
a device that is gone or disabled answers 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from gateway.api.devices import last_positions
from gateway.api.problems import Problem, not_found
from gateway.api.security import client_rate_limit, gateway_of
from gateway.context import GatewayContext
from gateway.domain.model import DeviceEntry
from trackstream_auth import InvalidToken, ShareClaims

router = APIRouter(prefix="/v1", tags=["shared"])


async def share_claims(context: GatewayContext, token: str) -> tuple[ShareClaims, DeviceEntry]:
    """The link's claims and device, when the link works now."""
    await context.keys.refresh_for(token)
    try:
        claims = context.keys.verifier.verify_share(token, now=context.clock())
    except InvalidToken:
        raise not_found("share link") from None
    if claims.expires_at <= context.clock():  # at once: no clock-skew leeway on expiry
        raise not_found("share link")
    device = context.directory.devices.get(claims.device_id)
    if context.directory.is_revoked(claims.link_id) or device is None or device.disabled:
        raise not_found("share link")
    return claims, device


@router.get("/shared/{token}/position", dependencies=[Depends(client_rate_limit)])
async def shared_position(token: str, request: Request) -> dict[str, Any]:
    context = gateway_of(request)
    claims, _ = await share_claims(context, token)
    found = await last_positions(context, [claims.device_id])
    if not found:
        raise Problem(404, "the device has not reported a position yet", slug="no-position")
    return {**found[0], "link_expires_time": claims.expires_at.isoformat()}
