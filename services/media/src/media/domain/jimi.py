"""The Jimi dashcam alarm photo/video upload (what Traccar serves as ``jimiphoto``, port 5267):
a multipart/form-data POST with a ``callbackBody`` JSON field (``imei``, ``alarmTime`` in epoch
seconds, ``lat``/``lng`` as text, ``mimeType``, ``eventType``, ``businessType``,
``instructionId``) and a ``file`` part. Answers are JSON ``{"code", "message", "data"}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime


class UploadRefused(Exception):
    """A request we refuse; ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class JimiUpload:
    imei: str
    content_type: str
    data: bytes
    filename: str
    alarm_time: datetime | None = None
    event_type: str = ""
    instruction_id: str = ""


_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)="?([^";]*)"?')
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def parse_multipart(content_type_header: str, body: bytes) -> dict[str, tuple[str, str, bytes]]:
    """name -> (content type, filename, bytes) of each part (RFC 7578, CRLF line ends). Refuses
    a body without its closing boundary (an upload cut off half-way). Searches the bytes with
    ``bytes.find`` rather than a MIME parser: a dashcam clip is megabytes of binary."""
    if not content_type_header.lower().startswith("multipart/form-data"):
        raise UploadRefused(415, "the upload must be multipart/form-data")
    found = _BOUNDARY.search(content_type_header)
    if not found:
        raise UploadRefused(400, "multipart/form-data without a boundary")
    dash = b"--" + found.group(1).strip().encode("latin-1")
    incomplete = UploadRefused(400, "incomplete or malformed multipart body")
    position = body.find(dash)
    if position < 0 or (position > 0 and body[position - 2 : position] != b"\r\n"):
        raise incomplete
    position += len(dash)
    parts: dict[str, tuple[str, str, bytes]] = {}
    while True:
        if body[position : position + 2] == b"--":
            return parts  # the closing boundary
        if body[position : position + 2] != b"\r\n":
            raise incomplete
        header_end = body.find(b"\r\n\r\n", position + 2)
        if header_end < 0:
            raise incomplete
        headers = _headers(body[position + 2 : header_end])
        content_start = header_end + 4
        content_end = body.find(b"\r\n" + dash, content_start)
        if content_end < 0:
            raise incomplete
        disposition = headers.get("content-disposition", "")
        params = {k.lower(): v for k, v in _PARAM.findall(disposition)}
        if disposition.lower().startswith("form-data") and params.get("name"):
            parts[params["name"]] = (
                headers.get("content-type", "text/plain").split(";", 1)[0].strip().lower(),
                params.get("filename", ""),
                body[content_start:content_end],
            )
        position = content_end + 2 + len(dash)


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            raise UploadRefused(400, "incomplete or malformed multipart body")
        headers[name.strip().lower()] = value.strip()
    return headers


def jimi_upload(
    parts: dict[str, tuple[str, str, bytes]],
    *,
    max_bytes: int,
    allowed_content_types: frozenset[str],
) -> JimiUpload:
    """The upload the parts describe, or :class:`UploadRefused` with a clear reason."""
    if "callbackBody" not in parts or "file" not in parts:
        raise UploadRefused(400, "missing field: callbackBody and file are required")
    try:
        body = json.loads(parts["callbackBody"][2].decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UploadRefused(400, "callbackBody is not JSON") from None
    if not isinstance(body, dict):
        raise UploadRefused(400, "callbackBody must be a JSON object")
    imei = str(body.get("imei") or "").strip()
    if not imei or not any(ch.isdigit() for ch in imei):
        raise UploadRefused(400, "callbackBody.imei is missing")
    part_type, filename, data = parts["file"]
    content_type = str(body.get("mimeType") or "") or part_type
    if content_type not in allowed_content_types:
        allowed = ", ".join(sorted(allowed_content_types))
        raise UploadRefused(415, f"content type {content_type!r} not accepted ({allowed})")
    if len(data) > max_bytes:
        raise UploadRefused(413, f"file of {len(data)} bytes exceeds the {max_bytes} byte limit")
    if not data:
        raise UploadRefused(400, "the file part is empty")
    alarm_time = None
    raw_time = body.get("alarmTime")
    if raw_time not in (None, ""):
        try:
            alarm_time = datetime.fromtimestamp(int(raw_time), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise UploadRefused(400, "callbackBody.alarmTime is not epoch seconds") from None
    return JimiUpload(
        imei=imei,
        content_type=content_type,
        data=data,
        filename=filename,
        alarm_time=alarm_time,
        event_type=str(body.get("eventType") or ""),
        instruction_id=str(body.get("instructionId") or ""),
    )


def answer(code: int, message: str, data: str | None = None) -> dict[str, object]:
    """The JSON body Jimi devices expect (Traccar answers the same shape)."""
    out: dict[str, object] = {"code": code, "message": message}
    if data is not None:
        out["data"] = data
    return out
