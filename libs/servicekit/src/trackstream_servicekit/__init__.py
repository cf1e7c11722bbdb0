"""Running a service: typed settings, health/readiness/metrics over HTTP, graceful shutdown."""

from trackstream_servicekit.gc_settling import GC_GEN0_THRESHOLD, settle_garbage_collector
from trackstream_servicekit.runner import ServiceRunner
from trackstream_servicekit.settings import ServiceSettings

__all__ = ["GC_GEN0_THRESHOLD", "ServiceRunner", "ServiceSettings", "settle_garbage_collector"]
