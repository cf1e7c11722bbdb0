"""Ingest: devices in, events out. A device message is acknowledged only once its events are
durably in Kafka, so a crash never loses an acknowledged position."""
