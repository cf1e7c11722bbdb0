"""The Jimi dashcam alarm photo/video upload (what Traccar serves as ``jimiphoto``, port 5267):
a multipart/form-data POST with a ``callbackBody`` JSON field (``imei``, ``alarmTime`` in epoch
seconds, ``lat``/``lng`` as text, ``mimeType``, ``eventType``, ``businessType``,
``instructionId``) and a ``file`` part. Answers are JSON ``{"code", "message", "data"}``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP


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


def parse_multipart(content_type_header: str, body: bytes) -> dict[str, tuple[str, str, bytes]]:
    """name -> (content type, filename, bytes) of each part. Refuses a body whose closing
    boundary is missing (an upload cut off half-way)."""
    if not content_type_header.lower().startswith("multipart/form-data"):
        raise UploadRefused(415, "the upload must be multipart/form-data")
    if "boundary=" not in content_type_header:
        raise UploadRefused(400, "multipart/form-data without a boundary")
    head = f"Content-Type: {content_type_header}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if message.defects or not message.is_multipart():
        raise UploadRefused(400, "incomplete or malformed multipart body")
    parts: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        if part.defects:
            raise UploadRefused(400, "incomplete or malformed multipart body")
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts[str(name)] = (part.get_content_type(), part.get_filename() or "", data)
    return parts


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
