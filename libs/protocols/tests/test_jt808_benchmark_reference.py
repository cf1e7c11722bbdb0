"""The benchmark baseline (benchmarks/reference/jt808_struct.py) must agree with the decoder."""

from __future__ import annotations

import pytest

from benchmarks.reference.jt808_struct import decode_location
from libs.protocols.tests import jt808_frames as F
from libs.protocols.tests.generated_frames import jt808_locations
from trackstream_protocols.jt808 import Jt808Decoder, Jt808Frame, Location


def _agree(wire: bytes) -> None:
    message = Jt808Decoder().decode(Jt808Frame.from_wire(wire)).message
    assert isinstance(message, Location)
    fix = message.fix
    when, latitude, longitude, speed, course = decode_location(wire)
    assert when == fix.fix_time
    assert latitude == pytest.approx(fix.latitude)
    assert longitude == pytest.approx(fix.longitude)
    assert (speed, float(course)) == (fix.speed_kmh, fix.course_deg)


@pytest.mark.parametrize(
    "hex_frame",
    [F.LOCATION_2A, F.LOCATION_2B, F.LOCATION_FUEL_SPEED, F.LOCATION_SOS_WEST],
)
def test_reference_decoder_agrees_with_the_full_decoder(hex_frame: str) -> None:
    _agree(F.raw(hex_frame))


def test_reference_decoder_agrees_on_generated_frames_escaped_ones_too() -> None:
    data = jt808_locations(500)
    assert any(b"\x7d" in frame for frame in data)  # some need un-escaping
    for wire in data:
        _agree(wire)
