"""Prometheus metrics every service shares. Names: ``trackstream_<area>_<what>_<unit>``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_PUBLISHED = Counter(
    "trackstream_events_published_total", "Events acknowledged by Kafka", ["topic", "type"]
)
PUBLISH_FAILURES = Counter(
    "trackstream_publish_failures_total", "Publishes that Kafka did not acknowledge", ["topic"]
)
PUBLISH_SECONDS = Histogram(
    "trackstream_publish_seconds",
    "Time from send to Kafka acknowledgement",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_CONSUMED = Counter(
    "trackstream_events_consumed_total",
    "Consumed records: handled, dead_lettered, skipped_unknown_type, skipped_tombstone",
    ["topic", "group", "outcome"],
)
HANDLE_SECONDS = Histogram(
    "trackstream_handle_seconds", "Time a consumer handler took per record", ["topic", "group"]
)
