"""Ratio benchmarks: each measures Trackstream against a baseline in the same run, on the same
machine and data, and reports the ratio (see benchmarks/README.md)."""
