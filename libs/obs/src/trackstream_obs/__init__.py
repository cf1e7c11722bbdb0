"""Observability shared by every service: JSON logs, Prometheus metrics, OpenTelemetry traces."""

from trackstream_obs.logging import configure_logging, redact
from trackstream_obs.tracing import configure_tracing, current_traceparent, extract_context

__all__ = [
    "configure_logging",
    "configure_tracing",
    "current_traceparent",
    "extract_context",
    "redact",
]
