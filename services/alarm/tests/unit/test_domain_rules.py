from __future__ import annotations

import pytest

from alarm.domain.model import InvalidInput
from alarm.domain.rules import Rule, RuleKind, validate_rule


def rule(kind: RuleKind, **kw: object) -> Rule:
    values: dict[str, object] = {"rule_id": "r1", "account_id": "acc-1", "kind": kind}
    values.update(kw)
    return Rule(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (rule(RuleKind.UNSPECIFIED), "kind is required"),
        (rule(RuleKind.OVERSPEED), "speed_limit_kmh must be in (0"),
        (rule(RuleKind.OVERSPEED, speed_limit_kmh=900), "speed_limit_kmh must be in (0"),
        (rule(RuleKind.OVERSPEED, speed_limit_kmh=50, hysteresis=60), "hysteresis must be"),
        (rule(RuleKind.OFFLINE), "offline_after_s must be at least 30 s"),
        (rule(RuleKind.IDLE, idle_after_s=5), "idle_after_s must be at least"),
        (rule(RuleKind.PARKED_TOO_LONG), "parked_after_s must be at least"),
        (rule(RuleKind.LOW_BATTERY, battery_below_percent=100), "battery_below_percent"),
        (rule(RuleKind.IGNITION, account_id=""), "account_id is required"),
        (rule(RuleKind.IGNITION, min_duration_s=-1), "must not be negative"),
    ],
)
def test_bad_rules_are_refused_with_a_one_line_reason(bad: Rule, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_rule(bad)
    assert reason in str(err.value)


def test_good_rules_pass_and_bind() -> None:
    validate_rule(rule(RuleKind.OVERSPEED, speed_limit_kmh=90))
    validate_rule(rule(RuleKind.MOVEMENT_WHILE_ARMED))
    validate_rule(rule(RuleKind.OFFLINE, offline_after_s=600))
    bound = rule(RuleKind.IGNITION, device_ids=frozenset({"a"}))
    assert bound.applies_to("a") and not bound.applies_to("b")
    assert rule(RuleKind.IGNITION).applies_to("anything")
    assert not rule(RuleKind.IGNITION, enabled=False).applies_to("a")
