"""The media service's own Prometheus metrics (``trackstream_media_*``)."""

from __future__ import annotations

from prometheus_client import Counter

#: per arriving object: source jt808 or jimi_http; outcome stored, mismatch (missing or partial
#: object, never catalogued), refused (HTTP 4xx), unknown_device
UPLOADS = Counter(
    "trackstream_media_uploads_total",
    "Media arriving, by source and outcome",
    ["source", "outcome"],
)
STORED_BYTES = Counter(
    "trackstream_media_stored_bytes_total",
    "Bytes of media catalogued, by source",
    ["source"],
)
#: reason: deleted (DeleteMedia), erased (EraseDevice), expired (retention sweeper)
DELETED = Counter(
    "trackstream_media_objects_deleted_total",
    "Objects deleted from the media bucket, by reason",
    ["reason"],
)
#: order: which came second and made the link (alarm_after_media, media_after_alarm)
ALARM_LINKS = Counter(
    "trackstream_media_alarm_links_total",
    "Media linked to the alarm that triggered them, by which of the two arrived second",
    ["order"],
)
