"""Domain errors: each maps to one gRPC status; the message is one line and carries no
personal data (it is shown to the caller and may be logged)."""

from __future__ import annotations


class IdentityError(Exception):
    """Base of every refusal the service answers with."""


class InvalidArgument(IdentityError):
    pass


class NotFound(IdentityError):
    pass


class AlreadyExists(IdentityError):
    pass


class FailedPrecondition(IdentityError):
    pass


class Unauthenticated(IdentityError):
    pass


class Unavailable(IdentityError):
    """A dependency (the store, Kafka) did not answer: the caller may retry."""
