"""A catalogued media object and how it is named in the store."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

#: media ids are UUIDv5 of bucket/key: the same stored object always gets the same id, so a
#: redelivered event overwrites its own rows
_MEDIA_NAMESPACE = uuid.UUID("6f1d7a52-4c1e-4f55-9a51-3f8f2a8d9b01")

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "video/mp4": "mp4",
    "video/x-msvideo": "avi",
    "audio/wav": "wav",
}


class MediaKind(IntEnum):
    """Values of trackstream.tracking.v1.MediaType."""

    UNSPECIFIED = 0
    IMAGE = 1
    AUDIO = 2
    VIDEO = 3


class Source(IntEnum):
    """Values of trackstream.media.v1.MediaSource."""

    UNSPECIFIED = 0
    JT808 = 1
    JIMI_HTTP = 2


def kind_of(content_type: str) -> MediaKind:
    major = content_type.split("/", 1)[0]
    return {"image": MediaKind.IMAGE, "audio": MediaKind.AUDIO, "video": MediaKind.VIDEO}.get(
        major, MediaKind.UNSPECIFIED
    )


def media_id_of(bucket: str, object_key: str) -> str:
    return str(uuid.uuid5(_MEDIA_NAMESPACE, f"{bucket}/{object_key}"))


def upload_object_key(device_id: str, received: datetime, sha256: str, content_type: str) -> str:
    """``{device_id}/{yyyy}/{mm}/{dd}/http-{sha16}.{ext}``: the layout of the bucket
    (docs/architecture.md); no IMEI, phone or plate, and the same upload lands on the same key."""
    day = received.astimezone(UTC)
    ext = EXTENSIONS.get(content_type, "bin")
    return f"{device_id}/{day:%Y/%m/%d}/http-{sha256[:16]}.{ext}"


@dataclass(frozen=True, slots=True)
class MediaRecord:
    media_id: str
    device_id: str
    captured_time: datetime
    media_type: MediaKind
    content_type: str
    size_bytes: int
    sha256: str
    bucket: str
    object_key: str
    source: Source
    alarm_id: str = ""
    command_id: str = ""
    event_code: str = ""
    channel: int = 0
    account_id: str = ""
