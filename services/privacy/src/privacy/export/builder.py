"""Build one account's export archive from its data, part after part.

Parts (paths inside the ZIP):
- ``profile.json`` the account; ``api_keys.json`` its API keys (names and dates, never a secret)
- ``devices.json`` the devices it owns
- ``positions/<device id>.csv`` every stored position of each device, oldest first
- ``alarms.json`` and ``alarms.csv`` the alarms of its devices (with who acknowledged them)
- ``media.json`` the media catalogue of its devices, ``media/<device id>/<media id>.<ext>`` the
  files themselves
- ``geofences.json``, ``rules.json`` what it defined in the alarm service
- ``subscriptions.json`` (webhook secrets removed), ``deliveries.json``, ``inbox.json``
- ``manifest.json`` every part above with its record count, size and SHA-256

Positions, alarms and media are read a page at a time and written as they come, so memory stays
bounded by a page, whatever the history; the ZIP itself goes to a temporary file.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from privacy.domain.archive import (
    ALARM_COLUMNS,
    POSITION_COLUMNS,
    ArchiveWriter,
    JsonArrayWriter,
    PartWriter,
    alarm_row,
    csv_line,
    csv_lines,
    media_file_name,
    message_json,
    part_path,
    position_row,
    subscription_json,
)
from privacy.export.source import AccountData
from trackstream.history.v1.history_service_pb2 import TrackPoint

#: a spool (the alarms' CSV) stays in memory up to this, then goes to a temporary file
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass
class ExportCounts:
    devices: int = 0
    positions: int = 0
    alarms: int = 0
    media: int = 0


def _write_position_page(part: PartWriter, page: Sequence[TrackPoint]) -> None:
    part.write(csv_lines(position_row(p) for p in page), records=len(page))


async def write_positions(part: PartWriter, pages: AsyncIterator[Sequence[TrackPoint]]) -> int:
    """A device's positions as CSV into ``part``; returns how many. A page is formatted and
    compressed in a worker thread while the next one is fetched: at most two pages in memory."""
    part.write(csv_line(POSITION_COLUMNS))
    written = 0
    writing: asyncio.Future[None] | None = None
    try:
        async for page in pages:
            if writing is not None:
                await asyncio.shield(writing)
            writing = asyncio.ensure_future(asyncio.to_thread(_write_position_page, part, page))
            written += len(page)
    finally:  # never leave the part while a thread still writes into it
        if writing is not None:
            await asyncio.shield(writing)
    return written


async def build_archive(
    *, data: AccountData, writer: ArchiveWriter, account_id: str, device_ids: Sequence[str]
) -> ExportCounts:
    """Write every part of ``account_id``'s export (not the manifest: ``writer.close`` does)."""
    counts = ExportCounts()
    account = await data.account(account_id)
    writer.add_json("profile.json", message_json(account), records=1)
    keys = await data.api_keys(account_id)
    writer.add_json("api_keys.json", [message_json(k) for k in keys], records=len(keys))

    devices = [d for d in await data.devices(device_ids) if d.owner_account_id == account_id]
    counts.devices = len(devices)
    writer.add_json("devices.json", [message_json(d) for d in devices], records=len(devices))
    owned = [d.device_id for d in devices]

    for device_id in owned:
        with writer.part(part_path("positions", f"{device_id}.csv")) as part:
            counts.positions += await write_positions(part, data.positions(device_id))

    # alarms are read once: the JSON goes into the ZIP, the CSV to a spool beside it (a ZIP
    # takes one part at a time), copied in after
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        with writer.part("alarms.json") as part:
            array = JsonArrayWriter(part)
            for device_id in owned:
                async for alarms in data.alarms(device_id):
                    for record in alarms:
                        array.add(message_json(record))
                    spool.write(csv_lines(alarm_row(r) for r in alarms))
                    counts.alarms += len(alarms)
            array.close()
        spool.seek(0)
        with writer.part("alarms.csv") as part:
            part.write(csv_line(ALARM_COLUMNS))
            for chunk in iter(lambda: spool.read(1 << 20), b""):
                part.write(chunk)
            part.records = counts.alarms

    media = []  # the catalogue is small next to the files: ids and keys only
    with writer.part("media.json") as part:
        array = JsonArrayWriter(part)
        for device_id in owned:
            async for objects in data.media(device_id):
                for media_object in objects:
                    array.add(message_json(media_object))
                    media.append((device_id, media_object.media_id, media_object.object_key))
        array.close()
    for device_id, media_id, object_key in media:
        path = part_path("media", device_id, media_file_name(media_id, object_key))
        with writer.part(path, compress=False) as part:
            async for chunk in data.media_content(device_id, media_id):
                part.write(chunk)
            part.records = 1
        counts.media += 1

    fences = await data.geofences(account_id)
    writer.add_json("geofences.json", [message_json(f) for f in fences], records=len(fences))
    rules = await data.rules(account_id)
    writer.add_json("rules.json", [message_json(r) for r in rules], records=len(rules))
    subscriptions = await data.subscriptions(account_id)
    writer.add_json(
        "subscriptions.json",
        [subscription_json(s) for s in subscriptions],
        records=len(subscriptions),
    )
    deliveries = await data.deliveries(account_id)
    writer.add_json(
        "deliveries.json", [message_json(d) for d in deliveries], records=len(deliveries)
    )
    inbox = await data.inbox(account_id)
    writer.add_json("inbox.json", [message_json(e) for e in inbox], records=len(inbox))
    return counts
