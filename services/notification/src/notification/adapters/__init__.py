"""Thin I/O: Cassandra, channels, geocoding, gRPC."""
