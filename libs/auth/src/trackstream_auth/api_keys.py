"""API keys for integrators: ``tsk_<key id>_<secret>``.

The secret is 256 random bits, so a plain SHA-256 of it is a safe verifier (no slow hash
needed: there is nothing to guess). Identity publishes only ``(key id, sha256(secret))``;
the gateway compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

PREFIX = "tsk"
_FORMAT = re.compile(r"^tsk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


class MalformedApiKey(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key_id: str
    #: the whole key to hand to the integrator, once
    secret: str
    secret_sha256: bytes


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def new_api_key() -> NewApiKey:
    key_id = uuid.uuid4().hex
    secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key_id=key_id, secret=secret, secret_sha256=digest(secret))


def key_id_of(secret: str) -> str:
    """The key id a presented key names; raises MalformedApiKey if it is not one of ours."""
    match = _FORMAT.match(secret)
    if match is None:
        raise MalformedApiKey("not a Trackstream API key")
    return match.group(1)


def matches(secret: str, secret_sha256: bytes) -> bool:
    return hmac.compare_digest(digest(secret), secret_sha256)
