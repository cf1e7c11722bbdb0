from __future__ import annotations

from trackstream.history.v1.history_service_pb2 import TrackPoint
from trackstream_events.fields import present


def test_an_unset_optional_field_is_none_and_a_set_zero_is_kept() -> None:
    point = TrackPoint()
    assert present(point, "ignition") is None
    assert present(point, "fix") is None
    point.ignition = False
    assert present(point, "ignition") is False
    point.fix.latitude = 1.5
    assert present(point, "fix").latitude == 1.5
