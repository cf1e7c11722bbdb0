"""Request ids: accepted from ``X-Request-Id`` (when it looks like one) or generated, echoed on
every response, and added to every log line written while the request is handled. Also the
access log, which names the route template, never the raw path or query (they can hold tokens)."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "x-request-id"
access_log = logging.getLogger("gateway.access")


def current_request_id() -> str:
    return _request_id.get()


_QUERY = re.compile(r"\?[^\s\"']*")
_SHARED = re.compile(r"/v1/shared/[^/\s\"']+")


def scrub_url(text: str) -> str:
    """A logged URL without its query (WebSocket tokens) or share-link token (in the path)."""
    return _SHARED.sub("/v1/shared/<token>", _QUERY.sub("?<query>", text))


class UrlScrubber(logging.Filter):
    """uvicorn logs WebSocket handshakes with the full URL: the token would be in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message or "/v1/shared/" in message:
            record.msg, record.args = scrub_url(message), None
        return True


def install_log_field() -> None:
    """Every log record gets ``request_id`` while a request is being handled."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, UrlScrubber) for f in logger.filters):
            logger.addFilter(UrlScrubber())
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        request_id = _request_id.get()
        if request_id != "-":
            record.request_id = request_id
        return record

    factory._adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), ""
        )
        request_id = offered if _ACCEPTABLE.match(offered) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 0
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            elif message["type"] == "websocket.accept":
                status = 101
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method", "WS"),
                    "route": getattr(route, "path", "(unmatched)"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            _request_id.reset(token)
