"""The benchmark baseline (benchmarks/reference/gt06_struct.py) must agree with the decoder."""

from __future__ import annotations

import pytest

from benchmarks.reference.gt06_struct import decode_gps_lbs
from libs.protocols.tests import gt06_frames as F
from libs.protocols.tests.gt06_frames import frame_bytes
from trackstream_protocols.gt06 import Gt06Location, decode, parse_frame


@pytest.mark.parametrize(
    "hex_frame",
    [
        F.GPS_LBS_12,
        F.GPS_LBS_12_ECUADOR_2876,
        F.GPS_LBS_12_ODOMETER,
        F.GPS_LBS_22,
        F.GPS_LBS_22_BRAZIL,
    ],
)
def test_reference_decoder_agrees_with_the_full_decoder(hex_frame: str) -> None:
    raw = frame_bytes(hex_frame)
    message = decode(parse_frame(raw))
    assert isinstance(message, Gt06Location) and message.fix is not None
    fix = message.fix
    when, latitude, longitude, speed, course = decode_gps_lbs(raw)
    assert when == fix.fix_time
    assert latitude == pytest.approx(fix.latitude)
    assert longitude == pytest.approx(fix.longitude)
    assert (speed, course) == (fix.speed_kmh, fix.course_deg)
