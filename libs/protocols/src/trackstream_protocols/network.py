"""Protocol-neutral radio observations a device reports next to (or instead of) a GNSS fix.

Cell towers and Wi-Fi access points feed network geolocation later; field names follow Traccar's
``CellTower``/``WifiAccessPoint`` (mcc, mnc, lac, cid, signal strength).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CellTower", "WifiAccessPoint"]


@dataclass(slots=True)
class CellTower:
    """One serving or neighbouring cell. ``lac`` is the LAC (2G/3G) or TAC (4G).

    ``signal_strength`` is in dBm (negative) when the device reports one, else None.
    """

    mcc: int
    mnc: int
    lac: int
    cid: int
    signal_strength: int | None = None


@dataclass(frozen=True, slots=True)
class WifiAccessPoint:
    """One access point seen by the device: MAC as ``aa:bb:cc:dd:ee:ff`` (lower case)."""

    mac_address: str
    signal_strength: int | None = None
