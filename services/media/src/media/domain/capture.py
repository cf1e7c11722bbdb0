"""Capture on command: a photo or clip request becomes a CommandRequested for ingest, and the
device's answer (which media ids it took) links the upload back to the request."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from trackstream.tracking.v1 import command_pb2
from trackstream_events.timestamps import to_timestamp

COMMAND_TTL = timedelta(minutes=10)
_MEDIA_IDS = re.compile(r"media ([0-9,]+)")


def capture_command(
    *,
    command_id: str,
    device_id: str,
    channel: int,
    requested_by: str,
    now: datetime,
) -> command_pb2.CommandRequested:
    """JT/T 808 0x8801 one shot (ingest's TAKE_PHOTO takes ``channel`` and ``count``). Clips
    need 0x8801 with count 0xFFFF and a recording time, which ingest does not pass on yet."""
    parameters = {"channel": str(channel or 1), "count": "1"}
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
