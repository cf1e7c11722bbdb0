"""Consent to precise location, applied at ingest (issue 8, docs/architecture.md "Consent").

A device's fixes are processed precisely only with the consent recorded in the registry (and,
for a device worn by a minor, the guardian's consent as well). Without it the fix is coarsened
to a grid of ``grid_deg`` degrees (0.05: about 5 km, like a geohash of 5 characters) with
altitude, course and satellites left out, or dropped, by the platform's policy. A device
registered before consent was recorded follows ``unrecorded`` (the platform's choice)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from trackstream.identity.v1.device_registry_pb2 import LocationConsent
from trackstream.tracking.v1 import fix_pb2


class WithoutConsent(StrEnum):
    COARSEN = "coarsen"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    #: what happens to a fix without consent
    without_consent: WithoutConsent = WithoutConsent.COARSEN
    #: whether a device registered without a recorded answer counts as consenting
    unrecorded_is_consent: bool = True
    grid_deg: float = 0.05


#: the enum numbers, read once (the enum wrapper's attribute lookup is slow per frame)
_GRANTED = LocationConsent.LOCATION_CONSENT_GRANTED
_UNSPECIFIED = LocationConsent.LOCATION_CONSENT_UNSPECIFIED


def precise_allowed(
    consent: int, worn_by_minor: bool, guardian_consent: bool, policy: ConsentPolicy
) -> bool:
    if consent == _GRANTED:
        given = True
    elif consent == _UNSPECIFIED:
        given = policy.unrecorded_is_consent
    else:
        given = False
    return given and (guardian_consent or not worn_by_minor)


def _snap(value: float, grid: float) -> float:
    """The centre of the grid cell holding ``value`` (never the value itself)."""
    return round((math.floor(value / grid) + 0.5) * grid, 6)


def coarsen(fix: fix_pb2.Fix, grid_deg: float) -> None:
    """Round the fix in place to the centre of its grid cell; drop what narrows it further."""
    fix.latitude = max(-90.0, min(90.0, _snap(fix.latitude, grid_deg)))
    fix.longitude = max(-180.0, min(180.0, _snap(fix.longitude, grid_deg)))
    fix.ClearField("altitude_m")
    fix.ClearField("satellites")
    fix.course_deg = 0.0
    fix.coarsened = True
