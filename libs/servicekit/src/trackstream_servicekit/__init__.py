"""Running a service: typed settings, health/readiness/metrics over HTTP, graceful shutdown."""

from trackstream_servicekit.runner import ServiceRunner
from trackstream_servicekit.settings import ServiceSettings

__all__ = ["ServiceRunner", "ServiceSettings"]
