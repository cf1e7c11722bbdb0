"""WebSockets: ``/v1/live`` streams the caller's visible devices (positions, status, alarms,
sessions); ``/v1/shared/{token}/live`` one device of a share link.

Authentication on ``/v1/live``: ``?access_token=<JWT or API key>``, or, without it, the first
message ``{"type": "auth", "access_token": "..."}`` within ``GATEWAY_LIVE_AUTH_TIMEOUT_S``.
Once subscribed the server sends ``{"type": "subscribed"}``, then JSON messages
``{"type": "position"|"status"|"alarm"|"session", "device_id": ..., ...}``, and the caller's
own in-app notifications as ``{"type": "notification", "notification_id": ..., ...}``.
The socket closes with 1008 (policy violation) when the token is refused, revoked, or
expires, and with 1001 when the gateway shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from gateway.adapters.live import Subscription
from gateway.api.problems import Problem
from gateway.api.security import rate_limit, resolve_credential
from gateway.api.shared import share_claims
from gateway.context import GatewayContext
from gateway.domain import access

router = APIRouter(prefix="/v1")
POLICY_VIOLATION = 1008
GOING_AWAY = 1001


def context_of(socket: WebSocket) -> GatewayContext:
    context: GatewayContext = socket.app.state.gateway
    return context


async def _first_message_token(socket: WebSocket, timeout_s: float) -> str | None:
    try:
        text = await asyncio.wait_for(socket.receive_text(), timeout_s)
        message = json.loads(text)
    except (TimeoutError, ValueError, KeyError, RuntimeError):
        return None
    if isinstance(message, dict) and message.get("type") == "auth":
        token = message.get("access_token")
        return token if isinstance(token, str) and token else None
    return None


async def _pump(
    socket: WebSocket,
    context: GatewayContext,
    subscription: Subscription,
    expires_at: datetime | None,
) -> None:
    """Queue to socket until the client leaves, the credential ends, or the gateway stops."""
    listener = asyncio.create_task(_until_client_leaves(socket))
    try:
        await socket.send_text('{"type":"subscribed"}')
        while True:
            timeout = None
            if expires_at is not None:
                timeout = max(0.0, (expires_at - context.clock()).total_seconds())
            getter = asyncio.create_task(subscription.queue.get())
            done, _ = await asyncio.wait(
                {getter, listener}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if listener in done:
                getter.cancel()
                return
            if getter not in done:
                getter.cancel()
                await socket.close(POLICY_VIOLATION, "credential expired")
                return
            text = getter.result()
            if text is None:
                reason = subscription.close_reason or "closed"
                code = GOING_AWAY if reason == "shutting down" else POLICY_VIOLATION
                await socket.close(code, reason)
                return
            await socket.send_text(text)
    except (WebSocketDisconnect, RuntimeError, ConnectionError):
        return
    finally:
        listener.cancel()
        with contextlib.suppress(BaseException):
            await listener
        context.hub.unsubscribe(subscription)


async def _until_client_leaves(socket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.websocket("/live")
async def live(socket: WebSocket) -> None:
    context = context_of(socket)
    await socket.accept()
    token = socket.query_params.get("access_token") or await _first_message_token(
        socket, context.settings.live_auth_timeout_s
    )
    if not token:
        await socket.close(POLICY_VIOLATION, "an access token is required")
        return
    try:
        caller = await resolve_credential(context, token)
        rate_limit(context, f"cred:{caller.credential_id}", None)
        access.caller_node(context.directory, caller)
    except (Problem, access.Forbidden):
        await socket.close(POLICY_VIOLATION, "the token is not valid")
        return
    directory = context.directory

    def sees(device_id: str) -> bool:
        return access.streams_to(directory, caller.account_id, device_id, context.clock())

    subscription = context.hub.subscribe(sees, caller.credential_id, caller.account_id)
    if directory.is_revoked(caller.credential_id):  # revoked while we were subscribing
        subscription.close("credential revoked")
    await _pump(socket, context, subscription, caller.expires_at)


@router.websocket("/shared/{token}/live")
async def shared_live(socket: WebSocket, token: str) -> None:
    context = context_of(socket)
    await socket.accept()
    try:
        claims, _ = await share_claims(context, token)
    except Problem:
        await socket.close(POLICY_VIOLATION, "the share link is not valid")
        return
    directory = context.directory

    def sees(device_id: str) -> bool:
        entry = directory.devices.get(device_id)
        return device_id == claims.device_id and entry is not None and not entry.disabled

    subscription = context.hub.subscribe(sees, claims.link_id)
    if directory.is_revoked(claims.link_id):
        subscription.close("credential revoked")
    await _pump(socket, context, subscription, claims.expires_at)
