"""Pseudonymous identifiers: how a device's own identifier becomes something safe to publish.

Identity keeps the IMEI or terminal phone number (encrypted); everything else knows a device by
its ``device_id`` and, to resolve logins, by ``identifier_hmac``: an HMAC-SHA256 of the
normalised identifier under the platform's identifier key. Without the key the HMAC cannot be
reversed by trying every IMEI.
"""

from __future__ import annotations

import hashlib
import hmac


def normalise_identifier(identifier: str) -> str:
    """Digits only, without leading zeros: a JT/T 808 phone is 12 digits in the 2013 header and
    20 in the 2019 one, and must resolve to the same device."""
    digits = "".join(ch for ch in identifier if ch.isdigit())
    if not digits:
        raise ValueError("a device identifier must contain digits")
    return digits.lstrip("0") or "0"


def identifier_hmac(key: bytes, identifier: str) -> bytes:
    if len(key) < 16:
        raise ValueError("the identifier key must be at least 16 bytes")
    return hmac.new(key, normalise_identifier(identifier).encode(), hashlib.sha256).digest()
