from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from alarm.domain.catalogue import AlarmType
from alarm.domain.engine import DeviceState, Engine, device_alarm
from alarm.domain.geofences import Circle, FenceIndex, Geofence, Polygon
from alarm.domain.model import Alarm, DeviceAlarm, Position
from alarm.domain.rules import DeviceRules, Rule, RuleKind
from services.alarm.tests.unit.conftest import LAT_M, at, pos

SQUARE = Geofence(
    geofence_id="depot",
    account_id="acc-1",
    shape=Polygon(((41.001, 29.0), (41.001, 29.01), (41.002, 29.01), (41.002, 29.0))),
    dwell_alarm_s=120,
)
RULES = [
    Rule("r-ign", "acc-1", RuleKind.IGNITION),
    Rule("r-speed", "acc-1", RuleKind.OVERSPEED, speed_limit_kmh=90, min_duration_s=10),
    Rule("r-off", "acc-1", RuleKind.OFFLINE, offline_after_s=600),
    Rule("r-idle", "acc-1", RuleKind.IDLE, idle_after_s=300),
    Rule("r-park", "acc-1", RuleKind.PARKED_TOO_LONG, parked_after_s=3600),
    Rule("r-batt", "acc-1", RuleKind.LOW_BATTERY, battery_below_percent=20),
]


def drive(
    positions: Sequence[Position],
    *,
    rules: Sequence[Rule] | DeviceRules = RULES,
    fences: Sequence[Geofence] = (SQUARE,),
    state: DeviceState | None = None,
) -> tuple[list[Alarm], DeviceState]:
    engine = Engine()
    index = FenceIndex(fences)
    state = state or DeviceState("dev-1")
    alarms: list[Alarm] = []
    for p in positions:
        placements = index.place(
            p.latitude, p.longitude, device_id="dev-1", account_id="acc-1", also=state.fences
        )
        alarms += engine.apply_position(
            state, p, account_id="acc-1", rules=rules, placements=placements
        )
    return alarms, state


def kinds(alarms: Sequence[Alarm]) -> list[tuple[str, float]]:
    return [(a.type.name, (a.time - at(0)).total_seconds()) for a in alarms]


TRACK = [
    pos(0, 41.0, 29.005, ignition=False, speed_kmh=0),
    pos(10, 41.0, 29.005, ignition=True, speed_kmh=0),
    pos(20, 41.0005, 29.005, speed_kmh=40),
    pos(30, 41.0015, 29.005, speed_kmh=50),  # in the depot
    pos(40, 41.0016, 29.005, speed_kmh=95),  # over the limit
    pos(50, 41.0017, 29.005, speed_kmh=92),  # 10 s over: overspeed
    pos(60, 41.0018, 29.005, speed_kmh=88),  # in the hysteresis band: still active
    pos(70, 41.0025, 29.005, speed_kmh=96),  # left the depot, still the same overspeed
    pos(80, 41.0035, 29.005, speed_kmh=60),  # cleared
    pos(90, 41.0045, 29.005, speed_kmh=97),
    pos(100, 41.0055, 29.005, speed_kmh=97),  # a second overspeed
    pos(110, 41.0065, 29.005, speed_kmh=0, ignition=False),
]


def test_a_scripted_track_raises_the_exact_alarm_sequence() -> None:
    alarms, state = drive(TRACK)
    assert kinds(alarms) == [
        ("IGNITION_ON", 10),
        ("GEOFENCE_ENTER", 30),
        ("OVERSPEED", 50),
        ("GEOFENCE_EXIT", 70),
        ("OVERSPEED", 100),
        ("IGNITION_OFF", 110),
    ]
    assert alarms[1].geofence_id == "depot" and alarms[2].rule_id == "r-speed"
    assert alarms[2].details == {"speed_kmh": "92", "limit_kmh": "90"}
    assert all(a.account_id == "acc-1" for a in alarms)
    assert len({a.alarm_id for a in alarms}) == len(alarms)
    assert state.fences == {}


def test_replaying_the_input_raises_the_same_ids() -> None:
    first, _ = drive(TRACK)
    again, _ = drive(TRACK)
    assert [a.alarm_id for a in first] == [a.alarm_id for a in again]


def test_a_restart_mid_track_from_saved_state_continues_without_miss_or_duplicate() -> None:
    whole, _ = drive(TRACK)
    head, state = drive(TRACK[:6])
    tail, _ = drive(TRACK, state=state)  # the whole input again: the head is skipped
    assert [a.alarm_id for a in head + tail] == [a.alarm_id for a in whole]


def test_late_and_repeated_positions_change_nothing() -> None:
    _, state = drive(TRACK[:5])
    before = (state.last, dict(state.fences), dict(state.thresholds))
    more, state = drive([TRACK[4], TRACK[2]], state=state)
    assert more == [] and (state.last, state.fences, state.thresholds) == before


def test_hovering_on_the_fence_edge_raises_one_enter() -> None:
    circle = Geofence("c", "acc-1", Circle(41.0, 29.0, 100.0), edge_margin_m=25)
    north = [100 - 5, 100 + 5, 100 - 3, 100 + 20, 100 - 1, 100 + 10]
    track = [pos(i * 10, 41.0 + m * LAT_M, 29.0) for i, m in enumerate(north)]
    alarms, _ = drive(track, fences=[circle], rules=[])
    assert kinds(alarms) == [("GEOFENCE_ENTER", 0)]
    out, _ = drive([*track, pos(100, 41.0 + 130 * LAT_M, 29.0)], fences=[circle], rules=[])
    assert kinds(out) == [("GEOFENCE_ENTER", 0), ("GEOFENCE_EXIT", 100)]


def test_dwell_inside_a_fence() -> None:
    inside = [pos(s, 41.0015, 29.005, speed_kmh=0) for s in (0, 60, 119, 125, 400)]
    alarms, _ = drive(inside, rules=[])
    assert kinds(alarms) == [("GEOFENCE_ENTER", 0), ("GEOFENCE_DWELL", 120)]


def test_offline_from_the_next_position_and_from_the_sweep_share_an_id() -> None:
    engine = Engine()
    _, state = drive([pos(0, speed_kmh=40)])
    swept = engine.sweep(state, now=at(599), account_id="acc-1", rules=RULES, fence=lambda _: None)
    assert swept == []
    swept = engine.sweep(state, now=at(601), account_id="acc-1", rules=RULES, fence=lambda _: None)
    assert kinds(swept) == [("OFFLINE", 600)]
    assert (
        engine.sweep(state, now=at(900), account_id="acc-1", rules=RULES, fence=lambda _: None)
        == []
    )
    # without the sweep, the next position shows the window elapsed: the same alarm
    by_event, _ = drive([pos(0, speed_kmh=40), pos(700, speed_kmh=40)])
    assert [a.alarm_id for a in by_event] == [a.alarm_id for a in swept]
    assert by_event[0].position is not None and by_event[0].position.time == at(0)


def test_idle_and_parked_timers() -> None:
    rules = [r for r in RULES if r.kind is not RuleKind.OFFLINE]
    idle = [pos(0, speed_kmh=0, ignition=True), pos(200, speed_kmh=0), pos(301, speed_kmh=0)]
    alarms, _ = drive(idle, fences=[], rules=rules)
    assert kinds(alarms) == [("IDLE", 300)]
    parked = [pos(0, speed_kmh=0, ignition=False), pos(3000, speed_kmh=0, ignition=False)]
    alarms, state = drive(parked, fences=[], rules=rules)
    assert alarms == []
    swept = Engine().sweep(
        state, now=at(3601), account_id="acc-1", rules=rules, fence=lambda _: None
    )
    assert kinds(swept) == [("PARKED_TOO_LONG", 3600)]
    moving_again, _ = drive(
        [pos(3700, speed_kmh=50, ignition=True)], state=state, fences=[], rules=rules
    )
    assert [k for k, _ in kinds(moving_again)] == ["IGNITION_ON"]


def test_low_battery_threshold_with_hysteresis() -> None:
    levels = [30, 19, 21, 18, 26, 15]
    track = [pos(i * 10, speed_kmh=0, battery_percent=b) for i, b in enumerate(levels)]
    alarms, _ = drive(track, fences=[], rules=[RULES[5]])
    assert kinds(alarms) == [("LOW_BATTERY_THRESHOLD", 10), ("LOW_BATTERY_THRESHOLD", 50)]


def test_movement_while_armed() -> None:
    armed = Rule("r-arm", "acc-1", RuleKind.MOVEMENT_WHILE_ARMED, min_duration_s=5)
    track = [
        pos(0, speed_kmh=0),
        pos(10, speed_kmh=8),
        pos(20, speed_kmh=12),
        pos(30, speed_kmh=20),
    ]
    alarms, _ = drive(track, fences=[], rules=[armed])
    assert kinds(alarms) == [("MOVEMENT_WHILE_ARMED", 20)]
    disarmed = Rule("r-arm", "acc-1", RuleKind.MOVEMENT_WHILE_ARMED, enabled=False)
    assert drive(track, fences=[], rules=[disarmed])[0] == []


def test_rules_bound_to_other_devices_do_not_apply() -> None:
    other = Rule("r-ign", "acc-1", RuleKind.IGNITION, device_ids=frozenset({"dev-2"}))
    alarms, _ = drive(TRACK, fences=[], rules=[other])
    assert alarms == []


def test_device_alarm_ids_are_stable_per_alarm() -> None:
    reported = DeviceAlarm("dev-1", at(5), "sos", 0x01, position=TRACK[0])
    a = device_alarm(reported, AlarmType.SOS, "acc-1")
    b = device_alarm(reported, AlarmType.SOS, "acc-1")
    c = device_alarm(DeviceAlarm("dev-1", at(6), "sos", 0x01), AlarmType.SOS, "acc-1")
    assert a.alarm_id == b.alarm_id != c.alarm_id
    assert a.protocol_code == 1 and a.protocol_alarm_type == "sos" and a.time == at(5)
    assert timedelta(0) == a.time - at(5)


def test_rules_made_once_for_the_device_raise_what_the_rule_list_raises() -> None:
    from_list, _ = drive(TRACK)
    made_once, _ = drive(TRACK, rules=DeviceRules.of(RULES, "dev-1"))
    assert made_once == from_list and len(from_list) > 3
