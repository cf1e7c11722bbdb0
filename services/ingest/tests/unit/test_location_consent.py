"""Consent to precise location at ingest: fixes of a device without it are coarsened (or
dropped, by policy), a minor's device needs the guardian's consent too, and a withdrawal in the
registry applies to the very next fix."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.domain.consent import ConsentPolicy, coarsen, precise_allowed
from services.ingest.tests.unit.conftest import KEY, Harness
from services.ingest.tests.unit.test_osmand_sessions import exchange, get
from trackstream.identity.v1.device_registry_pb2 import (
    LOCATION_CONSENT_GRANTED,
    LOCATION_CONSENT_UNSPECIFIED,
    LOCATION_CONSENT_WITHDRAWN,
    DeviceRegistered,
)
from trackstream.tracking.v1.fix_pb2 import Fix
from trackstream.tracking.v1.position_pb2 import PositionReported
from trackstream_events.pseudonyms import identifier_hmac

PHONE = "555001"
FIX = "lat=41.008237&lon=28.978412&altitude=35&speed=10&bearing=90"


def _register(harness: Harness, **consent: Any) -> None:
    harness.directory.apply(
        "dev-consent",
        DeviceRegistered(
            device_id="dev-consent", identifier_hmac=identifier_hmac(KEY, PHONE), **consent
        ),
    )


def _positions(harness: Harness) -> list[PositionReported]:
    return [m for m in harness.events("tracking.positions.v1") if isinstance(m, PositionReported)]


def test_who_consents() -> None:
    policy = ConsentPolicy()
    strict = ConsentPolicy(unrecorded_is_consent=False)
    granted, unrecorded, withdrawn = (
        LOCATION_CONSENT_GRANTED,
        LOCATION_CONSENT_UNSPECIFIED,
        LOCATION_CONSENT_WITHDRAWN,
    )
    assert precise_allowed(granted, False, False, policy)
    assert not precise_allowed(withdrawn, False, False, policy)
    assert precise_allowed(unrecorded, False, False, policy)
    assert not precise_allowed(unrecorded, False, False, strict)
    assert not precise_allowed(granted, True, False, policy)  # a minor: the guardian too
    assert precise_allowed(granted, True, True, policy)
    assert not precise_allowed(withdrawn, True, True, policy)


def test_coarsening_snaps_to_the_cell_centre_and_drops_what_narrows_it() -> None:
    fix = Fix(latitude=41.008237, longitude=-28.978412, altitude_m=35, satellites=9, course_deg=90)
    coarsen(fix, 0.05)
    assert (fix.latitude, fix.longitude) == (41.025, -28.975)
    assert not fix.HasField("altitude_m") and not fix.HasField("satellites")
    assert fix.course_deg == 0 and fix.coarsened
    edge = Fix(latitude=89.99, longitude=179.99)
    coarsen(edge, 0.05)
    assert -90 <= edge.latitude <= 90 and -180 <= edge.longitude <= 180


async def test_a_withdrawn_consent_coarsens_the_very_next_fix(harness: Harness) -> None:
    _register(harness, location_consent=LOCATION_CONSENT_GRANTED)
    first = await exchange(harness, get(f"id={PHONE}&timestamp=1764400000&{FIX}"))
    _register(harness, location_consent=LOCATION_CONSENT_WITHDRAWN)
    second = await exchange(harness, get(f"id={PHONE}&timestamp=1764400010&{FIX}"))
    assert [s for s, _ in first + second] == [200, 200]
    precise, coarse = _positions(harness)
    assert (precise.fix.latitude, precise.fix.coarsened) == (41.008237, False)
    assert precise.fix.HasField("altitude_m")
    assert (coarse.fix.latitude, coarse.fix.longitude, coarse.fix.coarsened) == (
        41.025,
        28.975,
        True,
    )
    assert not coarse.fix.HasField("altitude_m")
    assert coarse.fix.speed_kmh == precise.fix.speed_kmh  # speed stays (overspeed alarms)


async def test_a_minor_without_the_guardians_consent_is_coarsened(harness: Harness) -> None:
    _register(harness, location_consent=LOCATION_CONSENT_GRANTED, worn_by_minor=True)
    await exchange(harness, get(f"id={PHONE}&timestamp=1764400000&{FIX}"))
    _register(
        harness,
        location_consent=LOCATION_CONSENT_GRANTED,
        worn_by_minor=True,
        guardian_consent=True,
    )
    await exchange(harness, get(f"id={PHONE}&timestamp=1764400010&{FIX}"))
    assert [p.fix.coarsened for p in _positions(harness)] == [True, False]


@pytest.mark.parametrize(
    ("harness", "published"),
    [
        ({"without_location_consent": "drop", "unrecorded_location_consent": "granted"}, 1),
        ({"without_location_consent": "drop", "unrecorded_location_consent": "withheld"}, 0),
    ],
    indirect=["harness"],
)
async def test_the_drop_policy_publishes_nothing_but_still_answers(
    harness: Harness, published: int
) -> None:
    _register(harness)  # no recorded answer
    answers = await exchange(harness, get(f"id={PHONE}&timestamp=1764400000&{FIX}"))
    assert [s for s, _ in answers] == [200]  # acknowledged: the phone does not resend it
    assert len(_positions(harness)) == published
