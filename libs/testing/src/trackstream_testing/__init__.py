"""Test helpers for every service's unit tests: fakes that keep the real adapters' contracts."""

from trackstream_testing.fakes import FakePublisher, PublishedEvent

__all__ = ["FakePublisher", "PublishedEvent"]
