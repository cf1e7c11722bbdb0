"""Fresh subjects for the scanner's tests: random ids and numbers nobody else holds."""

from __future__ import annotations

import random
import uuid
from typing import Any

from trackstream_residual_scan.subject import Subject, parse_subject

#: the local platform's identifier HMAC key (services' DEV_IDENTIFIER_KEY)
IDENTIFIER_KEY = b"trackstream-local-identifier-key-not-for-production"


def luhn(digits: str) -> int:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def fresh_imei(rng: random.Random) -> str:
    body = "86" + "".join(rng.choice("0123456789") for _ in range(12))
    return body + str(luhn(body))


def fresh_closure(seed: int | None = None) -> dict[str, Any]:
    """A closure with one of every kind: account and device ids, an IMEI, a JT/T 808 terminal
    phone, a phone, an e-mail, a plate and a name, all random."""
    rng = random.Random(seed)
    tag = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz") for _ in range(8))
    return {
        "ids": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2)],
        "device_identifiers": [
            fresh_imei(rng),
            "0" + "".join(rng.choice("123456789") for _ in range(11)),
        ],
        "phones": ["+49 151 " + "".join(rng.choice("0123456789") for _ in range(8))],
        "emails": [f"Anna.{tag.capitalize()}@Example.org"],
        "plates": [f"B-{tag[:2].upper()} {rng.randint(1000, 9999)}"],
        "names": [f"Anna {tag.capitalize()}"],
    }


def fresh_subject(seed: int | None = None) -> Subject:
    return parse_subject(fresh_closure(seed))
