"""Fixtures shared by the identity service's tests."""
