"""The Jimi dashcam upload endpoint (port 5267): POST multipart/form-data with ``callbackBody``
and ``file``. The body is read whole (bounded by the size limit) before anything is stored, so
an upload cut off half-way stores nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from media.domain.jimi import UploadRefused, answer, jimi_upload, parse_multipart
from media.handlers import MediaApp, UnknownDevice
from media.metrics import UPLOADS

log = logging.getLogger(__name__)
#: room for the callbackBody and the multipart framing on top of the file itself
_FRAMING_BYTES = 64 * 1024


def upload_app(
    app: MediaApp, *, max_bytes: int, allowed_content_types: frozenset[str]
) -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        try:
            body = await _bounded_body(request, max_bytes + _FRAMING_BYTES)
            parts = parse_multipart(request.headers.get("content-type", ""), body)
            media = jimi_upload(
                parts, max_bytes=max_bytes, allowed_content_types=allowed_content_types
            )
            record = await app.accept_upload(media, now=datetime.now(UTC))
        except UploadRefused as refused:
            UPLOADS.labels("jimi_http", "refused").inc()
            return JSONResponse(answer(refused.status, refused.message), status_code=refused.status)
        except UnknownDevice:
            return JSONResponse(answer(404, "unknown device"), status_code=404)
        except ClientDisconnect:
            UPLOADS.labels("jimi_http", "refused").inc()
            log.info("upload cut off by the device; nothing stored")
            return JSONResponse(answer(400, "upload incomplete"), status_code=400)
        return JSONResponse(answer(200, "success", record.media_id))

    return Starlette(routes=[Route("/{path:path}", upload, methods=["POST"])])


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise UploadRefused(400, "bad Content-Length") from None
        if length > limit:
            raise UploadRefused(413, f"upload of {length} bytes exceeds the limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadRefused(413, "upload exceeds the size limit")
        chunks.append(chunk)
    body = b"".join(chunks)
    if declared is not None and len(body) != int(declared):
        raise UploadRefused(400, "upload incomplete")
    return body
