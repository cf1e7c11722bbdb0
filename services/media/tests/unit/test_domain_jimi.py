from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from media.domain.jimi import UploadRefused, jimi_upload, parse_multipart

ALLOWED = frozenset({"image/jpeg", "video/mp4"})
BOUNDARY = "----jimi-boundary"


def multipart(fields: dict[str, str], file: tuple[str, str, bytes] | None) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    if file is not None:
        filename, ctype, data = file
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


HEADER = f"multipart/form-data; boundary={BOUNDARY}"
PHOTO = bytes(range(256)) * 40  # binary, with CR/LF and NUL bytes inside


def callback(**extra: object) -> str:
    return json.dumps({"imei": "860000000000001", "alarmTime": 1764393600, **extra})


def test_a_jimi_upload_is_read_byte_exact() -> None:
    body = multipart(
        {"callbackBody": callback(mimeType="image/jpeg", eventType="ADAS", instructionId="c-1")},
        ("a.jpg", "image/jpeg", PHOTO),
    )
    upload = jimi_upload(
        parse_multipart(HEADER, body), max_bytes=1 << 20, allowed_content_types=ALLOWED
    )
    assert upload.data == PHOTO
    assert upload.imei == "860000000000001"
    assert upload.content_type == "image/jpeg"
    assert upload.alarm_time == datetime(2025, 11, 29, 5, 20, tzinfo=UTC)
    assert (upload.event_type, upload.instruction_id) == ("ADAS", "c-1")


def test_a_body_cut_off_half_way_is_refused() -> None:
    body = multipart({"callbackBody": callback()}, ("a.jpg", "image/jpeg", PHOTO))
    with pytest.raises(UploadRefused) as refused:
        parse_multipart(HEADER, body[: len(body) // 2])
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("fields", "file", "status", "words"),
    [
        ({"callbackBody": callback()}, ("a.gif", "image/gif", b"GIF89a"), 415, "image/gif"),
        ({"callbackBody": callback()}, ("a.jpg", "image/jpeg", b"x" * 2000), 413, "limit"),
        ({"callbackBody": callback()}, None, 400, "missing field"),
        ({"callbackBody": "not json"}, ("a.jpg", "image/jpeg", b"x"), 400, "JSON"),
        (
            {"callbackBody": json.dumps({"alarmTime": 1})},
            ("a.jpg", "image/jpeg", b"x"),
            400,
            "imei",
        ),
    ],
)
def test_bad_uploads_get_a_clear_reason(
    fields: dict[str, str], file: tuple[str, str, bytes] | None, status: int, words: str
) -> None:
    with pytest.raises(UploadRefused) as refused:
        jimi_upload(
            parse_multipart(HEADER, multipart(fields, file)),
            max_bytes=1000,
            allowed_content_types=ALLOWED,
        )
    assert refused.value.status == status
    assert words in refused.value.message


def test_only_multipart_is_accepted() -> None:
    with pytest.raises(UploadRefused) as refused:
        parse_multipart("application/json", b"{}")
    assert refused.value.status == 415
