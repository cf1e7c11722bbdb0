"""The geocoding service's own Prometheus metrics (``trackstream_geocoding_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

#: per position: reused (device had not moved), cache_hit, looked_up (offline index), skipped
#: (impossible coordinates)
POSITIONS = Counter(
    "trackstream_geocoding_positions_total",
    "Positions geocoded, by how the address was found",
    ["outcome"],
)
PROVIDER_CALLS = Counter(
    "trackstream_geocoding_provider_calls_total",
    "Calls to the external provider by outcome (ok, empty, error, timeout, breaker_open, "
    "rate_limited); every outcome but ok and empty falls back to the offline answer",
    ["provider", "outcome"],
)
BREAKER_OPEN = Gauge(
    "trackstream_geocoding_provider_breaker_open",
    "1 while the provider's circuit breaker is open or half-open",
    ["provider"],
)
