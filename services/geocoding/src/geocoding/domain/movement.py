"""No new lookup while a device has not moved: the place of its last looked-up fix is reused
until a fix is more than the threshold away from that fix (the anchor, not the previous fix:
a slow drift still triggers a lookup once it adds up)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from geocoding.domain.model import Place, distance_m


@dataclass(slots=True)
class Anchor:
    """The last fix of a device that was looked up, its cache cell, and (once resolved) its
    place."""

    latitude: float
    longitude: float
    cell: str
    place: Place | None = None


class MovementFilter:
    def __init__(self, threshold_m: float, *, max_devices: int) -> None:
        self._threshold_m = threshold_m
        self._max_devices = max_devices
        self._anchors: OrderedDict[str, Anchor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._anchors)

    def unmoved(self, device_id: str, latitude: float, longitude: float) -> Anchor | None:
        """The device's anchor when this fix is within the threshold of it, else ``None``."""
        anchor = self._anchors.get(device_id)
        if anchor is None:
            return None
        self._anchors.move_to_end(device_id)
        moved = distance_m(latitude, longitude, anchor.latitude, anchor.longitude)
        return anchor if moved <= self._threshold_m else None

    def moved(self, device_id: str, anchor: Anchor) -> None:
        """``anchor`` is the device's new reference fix."""
        self._anchors[device_id] = anchor
        self._anchors.move_to_end(device_id)
        while len(self._anchors) > self._max_devices:
            self._anchors.popitem(last=False)

    def forget(self, device_id: str) -> bool:
        """Drop the device's anchor (its erasure); whether there was one."""
        return self._anchors.pop(device_id, None) is not None
