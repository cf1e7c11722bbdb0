"""Deterministic identities for a virtual fleet: IMEIs, terminal phones, device ids. Pure.

The same ``(seed, index)`` always gives the same identity, and different indexes within one seed
never collide (up to a million devices per protocol), so a fleet registered once can be started
again and again and ingest recognises every device.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Identity",
    "Protocol",
    "device_id_for",
    "gt06_identity",
    "imei_for",
    "is_valid_imei",
    "jt808_identity",
    "luhn_check_digit",
    "owner_account_id_for",
    "phone_for",
]

Protocol = Literal["gt06", "jt808"]

#: namespace of the simulator's stable UUIDs (uuid5 of a fixed name)
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://trackstream.dev/simulator")
#: how many devices per protocol and seed get distinct identifiers
MAX_DEVICES = 1_000_000


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit to append to ``digits`` (the IMEI check digit)."""
    if not digits.isdigit():
        raise ValueError(f"Luhn needs decimal digits, got {digits!r}")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # doubled: the rightmost payload digit and every second one from it
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return (10 - total % 10) % 10


def is_valid_imei(imei: str) -> bool:
    """15 digits whose last is the Luhn digit of the first 14."""
    return len(imei) == 15 and imei.isdigit() and luhn_check_digit(imei[:14]) == int(imei[14])


def _offset(seed: int, label: str, modulus: int) -> int:
    return random.Random(f"trackstream-simulator:{seed}:{label}").randrange(modulus)


def _check_index(index: int) -> None:
    if not 0 <= index < MAX_DEVICES:
        raise ValueError(f"device index must be in 0..{MAX_DEVICES - 1}")


def imei_for(seed: int, index: int, *, label: str = "gt06") -> str:
    """A valid IMEI: an 8-digit type allocation code, a 6-digit serial and the Luhn digit.

    The code starts with 86 (reporting body of the Chinese module makers) and is fixed per seed;
    the serial walks from a per-seed offset, so indexes never collide.
    """
    _check_index(index)
    tac = f"86{_offset(seed, label + ':tac', 10**6):06d}"
    serial = (_offset(seed, label + ":serial", MAX_DEVICES) + index) % MAX_DEVICES
    body = f"{tac}{serial:06d}"
    return body + str(luhn_check_digit(body))


def phone_for(seed: int, index: int) -> str:
    """A 12-digit terminal phone as JT/T 808-2013 sends it: ``0`` + an 11-digit mobile number
    (``1`` + a 3-digit prefix fixed per seed + a 7-digit subscriber number)."""
    _check_index(index)
    prefix = 300 + _offset(seed, "jt808:prefix", 700)
    subscriber = (_offset(seed, "jt808:subscriber", 10**7) + index) % 10**7
    return f"01{prefix:03d}{subscriber:07d}"


def device_id_for(seed: int, protocol: Protocol, index: int) -> str:
    """The platform device id (a UUID) of device ``index``: stable across runs."""
    return str(uuid.uuid5(NAMESPACE, f"device:{seed}:{protocol}:{index}"))


def owner_account_id_for(seed: int) -> str:
    """The account the simulated fleet of ``seed`` belongs to."""
    return str(uuid.uuid5(NAMESPACE, f"account:{seed}"))


@dataclass(frozen=True, slots=True)
class Identity:
    """Who one virtual device is."""

    protocol: Protocol
    index: int
    device_id: str
    #: what the device logs in with: the IMEI (GT06) or the 12-digit phone (JT/T 808)
    identifier: str
    #: JT/T 808 header edition ("2013" or "2019"); None for GT06
    edition: str | None = None
    #: the module IMEI a 2019 JT/T 808 terminal sends when it authenticates
    imei: str | None = None


def gt06_identity(seed: int, index: int) -> Identity:
    return Identity(
        protocol="gt06",
        index=index,
        device_id=device_id_for(seed, "gt06", index),
        identifier=imei_for(seed, index),
    )


def jt808_identity(seed: int, index: int, *, fraction_2019: float = 0.25) -> Identity:
    """A JT/T 808 terminal; an evenly spread ``fraction_2019`` of the indexes use the 2019
    header (the same indexes for every seed, so a fleet's mix is predictable)."""
    if not 0.0 <= fraction_2019 <= 1.0:
        raise ValueError("fraction_2019 must be within 0..1")
    is_2019 = int((index + 1) * fraction_2019) > int(index * fraction_2019)
    return Identity(
        protocol="jt808",
        index=index,
        device_id=device_id_for(seed, "jt808", index),
        identifier=phone_for(seed, index),
        edition="2019" if is_2019 else "2013",
        imei=imei_for(seed, index, label="jt808"),
    )
