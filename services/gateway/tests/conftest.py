"""Fixtures shared by the gateway service's tests."""
