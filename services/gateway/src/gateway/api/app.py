"""The FastAPI application: routes, problem details, request ids, OpenAPI at /v1/openapi.json."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from gateway.api import (
    accounts,
    alarms,
    devices,
    geocoding,
    history,
    live,
    media,
    notifications,
    privacy,
    problems,
    shared,
)
from gateway.api.request_context import RequestIdMiddleware, install_log_field
from gateway.api.security import gateway_of
from gateway.context import GatewayContext


def create_app(context: GatewayContext) -> FastAPI:
    install_log_field()
    app = FastAPI(
        title="Trackstream API",
        version="1.0.0",
        description=(
            "Versioned REST API of Trackstream. Errors are RFC 9457 problem details; "
            "authenticate with `Authorization: Bearer <access token>` or an API key."
        ),
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    app.state.gateway = context
    problems.install(app)
    app.add_middleware(RequestIdMiddleware)
    for module in (accounts, devices, history, alarms, media, geocoding, privacy, shared, live):
        app.include_router(module.router)
    app.include_router(notifications.router)

    @app.get("/.well-known/jwks.json", tags=["auth"])
    async def jwks(request: Request) -> Response:
        """The public keys that verify access and share-link tokens (RFC 7517)."""
        return Response(
            gateway_of(request).keys.jwks_json,
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    return app
