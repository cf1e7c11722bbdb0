"""Capture on command: a photo or clip request becomes a CommandRequested for ingest, and the
device's answer (which media ids it took) links the upload back to the request."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from trackstream.tracking.v1 import command_pb2
from trackstream_events.timestamps import to_timestamp

COMMAND_TTL = timedelta(minutes=10)
#: 0x8801 command word: record a clip instead of taking ``count`` photos
RECORD_VIDEO = 0xFFFF
DEFAULT_CLIP_S = 10
MAX_CLIP_S = 60
_MEDIA_IDS = re.compile(r"media ([0-9,]+)")


def capture_command(
    *,
    command_id: str,
    device_id: str,
    channel: int,
    requested_by: str,
    now: datetime,
    clip_s: int | None = None,
) -> command_pb2.CommandRequested:
    """JT/T 808 0x8801 (ingest's TAKE_PHOTO takes ``channel``, ``count`` and ``interval_s``):
    one photo, or with ``clip_s`` a clip: command word 0xFFFF and the recording time in
    seconds (JT/T 808-2013 table 0x8801: channel BYTE, command WORD, interval/recording
    time WORD, ...). 0 or None for ``clip_s`` means a photo."""
    parameters = {"channel": str(channel or 1), "count": "1"}
    if clip_s:
        if not 0 < clip_s <= MAX_CLIP_S:
            raise ValueError(f"a clip lasts 1 to {MAX_CLIP_S} s")
        parameters = {
            "channel": str(channel or 1),
            "count": str(RECORD_VIDEO),
            "interval_s": str(clip_s),
        }
    return command_pb2.CommandRequested(
        command_id=command_id,
        device_id=device_id,
        kind=command_pb2.COMMAND_KIND_TAKE_PHOTO,
        parameters=parameters,
        requested_time=to_timestamp(now),
        expires_time=to_timestamp(now + COMMAND_TTL),
        requested_by=requested_by,
    )


def media_ids_in_reply(reply_text: str) -> list[int]:
    """The device media ids in ingest's 0x0805 result text (``result 0; media 7,8``)."""
    found = _MEDIA_IDS.search(reply_text)
    if not found:
        return []
    return [int(i) for i in found.group(1).split(",") if i]
