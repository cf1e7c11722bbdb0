"""RFC 9457 problem details for every error the gateway answers, and how backend (gRPC) errors
map onto them: UNAVAILABLE -> 503, NOT_FOUND -> 404, INVALID_ARGUMENT -> 422, ALREADY_EXISTS ->
409, UNAUTHENTICATED -> 401, PERMISSION_DENIED -> 403, FAILED_PRECONDITION -> 409."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api.request_context import current_request_id
from gateway.domain.access import Forbidden, NotVisible
from gateway.domain.commands import BadCommand
from gateway.domain.paging import BadPageToken
from gateway.domain.timerange import BadTimeRange

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = headers or {}
        self.extra = extra or {}


def not_found(what: str = "resource") -> Problem:
    return Problem(404, f"no such {what}", slug="not-found")


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    request_id = current_request_id()
    body: dict[str, Any] = {
        "type": f"urn:trackstream:problem:{slug or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"urn:trackstream:request:{request_id}",
        "request_id": request_id,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


_GRPC: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.UNAVAILABLE: (503, "backend-unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "backend-unavailable"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid-argument"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "invalid-argument"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed-precondition"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate-limited"),
}


def backend_problem(error: grpc.aio.AioRpcError) -> Problem:
    status, slug = _GRPC.get(error.code(), (502, "backend-error"))
    if status == 503:
        detail = "a backend service is unavailable; retry later"
    elif status == 502:
        detail = "a backend service failed"
    elif status == 404:
        detail = "no such resource"
    else:
        detail = error.details() or slug
    headers = {"Retry-After": "1"} if status == 503 else None
    return Problem(status, detail, slug=slug, headers=headers)


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the rejected input (it may be a password)."""
    return [
        {"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in error.errors()
    ]


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, Problem)
        return problem_response(
            error.status, error.detail, slug=error.slug, headers=error.headers, extra=error.extra
        )

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        detail = {404: "no such resource", 405: "method not allowed here"}.get(
            error.status_code, str(error.detail)
        )
        return problem_response(
            error.status_code, detail, headers=dict(error.headers) if error.headers else None
        )

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return problem_response(
            422,
            "the request is not valid",
            slug="validation-error",
            extra={"errors": _validation_errors(error)},
        )

    async def on_not_visible(request: Request, error: Exception) -> JSONResponse:
        return problem_response(404, "no such resource", slug="not-found")

    async def on_forbidden(request: Request, error: Exception) -> JSONResponse:
        return problem_response(403, str(error), slug="forbidden")

    async def on_bad_input(request: Request, error: Exception) -> JSONResponse:
        status = 400 if isinstance(error, BadPageToken) else 422
        return problem_response(status, str(error), slug="invalid-argument")

    async def on_grpc(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, grpc.aio.AioRpcError)
        problem = backend_problem(error)
        if problem.status >= 500:
            log.warning("backend call failed", extra={"grpc_code": error.code().name})
        return problem_response(
            problem.status, problem.detail, slug=problem.slug, headers=problem.headers
        )

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=error)
        return problem_response(500, "an unexpected error; it is logged", slug="internal")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(NotVisible, on_not_visible)
    app.add_exception_handler(Forbidden, on_forbidden)
    for bad in (BadPageToken, BadTimeRange, BadCommand):
        app.add_exception_handler(bad, on_bad_input)
    app.add_exception_handler(grpc.aio.AioRpcError, on_grpc)
    app.add_exception_handler(Exception, on_unexpected)
