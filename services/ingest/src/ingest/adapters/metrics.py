from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge("trackstream_ingest_connections", "Open device connections", ["protocol"])
FRAMES = Counter("trackstream_ingest_frames_total", "Frames decoded", ["protocol"])
BAD_CHECKSUMS = Counter(
    "trackstream_ingest_bad_checksums_total", "Frames whose checksum did not match", ["protocol"]
)
CLOSED = Counter(
    "trackstream_ingest_connections_closed_total",
    "Connections closed, by reason",
    ["protocol", "reason"],
)
COMMANDS = Counter("trackstream_ingest_commands_total", "Commands by outcome", ["outcome"])
POSITIONS_WITHOUT_CONSENT = Counter(
    "trackstream_ingest_fixes_without_consent_total",
    "Fixes of devices without consent to precise location, by what was done (coarsen, drop)",
    ["action"],
)
