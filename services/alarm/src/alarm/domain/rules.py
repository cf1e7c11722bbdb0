"""Alarm rules of an account: what each kind means, its defaults, and validation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from alarm.domain.model import InvalidInput


class RuleKind(IntEnum):
    UNSPECIFIED = 0
    OVERSPEED = 1
    OFFLINE = 2
    IGNITION = 3
    IDLE = 4
    PARKED_TOO_LONG = 5
    LOW_BATTERY = 6
    MOVEMENT_WHILE_ARMED = 7


#: armed devices raise their alarm above this speed unless the rule says otherwise
DEFAULT_ARMED_SPEED_KMH = 5.0
#: overspeed ends this far below the limit unless the rule says otherwise
DEFAULT_SPEED_HYSTERESIS_KMH = 5.0
#: low battery ends this many percent above the threshold unless the rule says otherwise
DEFAULT_BATTERY_HYSTERESIS_PERCENT = 5.0
#: a timer shorter than this would flood alarms (and offline needs reports to be late)
MIN_TIMER_S = 30
MAX_SPEED_KMH = 500.0


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    account_id: str
    kind: RuleKind
    name: str = ""
    #: empty: every device of the account
    device_ids: frozenset[str] = frozenset()
    enabled: bool = True
    speed_limit_kmh: float = 0.0
    hysteresis: float = 0.0
    min_duration_s: int = 0
    offline_after_s: int = 0
    idle_after_s: int = 0
    parked_after_s: int = 0
    battery_below_percent: int = 0

    def applies_to(self, device_id: str) -> bool:
        return self.enabled and (not self.device_ids or device_id in self.device_ids)

    @property
    def speed_hysteresis_kmh(self) -> float:
        return self.hysteresis if self.hysteresis > 0 else DEFAULT_SPEED_HYSTERESIS_KMH

    @property
    def armed_speed_kmh(self) -> float:
        return self.speed_limit_kmh if self.speed_limit_kmh > 0 else DEFAULT_ARMED_SPEED_KMH

    @property
    def battery_hysteresis_percent(self) -> float:
        return self.hysteresis if self.hysteresis > 0 else DEFAULT_BATTERY_HYSTERESIS_PERCENT


#: the rules whose windows are timers (due some time after their start)
TIMER_KINDS = frozenset({RuleKind.OFFLINE, RuleKind.IDLE, RuleKind.PARKED_TOO_LONG})
#: the rules that watch a value against a limit, with debounce and hysteresis
THRESHOLD_KINDS = frozenset(
    {RuleKind.OVERSPEED, RuleKind.MOVEMENT_WHILE_ARMED, RuleKind.LOW_BATTERY}
)


@dataclass(frozen=True, slots=True)
class DeviceRules:
    """The rules that apply to one device, each in rule-id order (the order of its alarms),
    split by what evaluates them. Made once per account (or per device when rules are bound to
    devices), not per position."""

    timers: tuple[Rule, ...] = ()
    ignition: tuple[Rule, ...] = ()
    thresholds: tuple[Rule, ...] = ()

    @classmethod
    def of(cls, rules: Iterable[Rule], device_id: str) -> DeviceRules:
        applying = sorted((r for r in rules if r.applies_to(device_id)), key=lambda r: r.rule_id)
        return cls(
            timers=tuple(r for r in applying if r.kind in TIMER_KINDS),
            ignition=tuple(r for r in applying if r.kind is RuleKind.IGNITION),
            thresholds=tuple(r for r in applying if r.kind in THRESHOLD_KINDS),
        )


def validate_rule(rule: Rule) -> None:
    """Raise :class:`InvalidInput` with a one-line reason when the rule cannot work."""
    if not rule.rule_id:
        raise InvalidInput("rule_id is required")
    if not rule.account_id:
        raise InvalidInput("account_id is required")
    if rule.kind is RuleKind.UNSPECIFIED:
        raise InvalidInput("kind is required")
    if rule.hysteresis < 0 or rule.min_duration_s < 0:
        raise InvalidInput("hysteresis and min_duration_s must not be negative")
    kind = rule.kind
    if kind is RuleKind.OVERSPEED and not 0 < rule.speed_limit_kmh <= MAX_SPEED_KMH:
        raise InvalidInput(f"speed_limit_kmh must be in (0, {MAX_SPEED_KMH:g}]")
    if kind is RuleKind.MOVEMENT_WHILE_ARMED and not 0 <= rule.speed_limit_kmh <= MAX_SPEED_KMH:
        raise InvalidInput(f"speed_limit_kmh must be in [0, {MAX_SPEED_KMH:g}]")
    if kind is RuleKind.OVERSPEED and rule.hysteresis >= rule.speed_limit_kmh:
        raise InvalidInput("hysteresis must be below speed_limit_kmh")
    timers = {
        RuleKind.OFFLINE: ("offline_after_s", rule.offline_after_s),
        RuleKind.IDLE: ("idle_after_s", rule.idle_after_s),
        RuleKind.PARKED_TOO_LONG: ("parked_after_s", rule.parked_after_s),
    }
    if kind in timers:
        name, value = timers[kind]
        if value < MIN_TIMER_S:
            raise InvalidInput(f"{name} must be at least {MIN_TIMER_S} s")
    if kind is RuleKind.LOW_BATTERY and not 0 < rule.battery_below_percent < 100:
        raise InvalidInput("battery_below_percent must be in (0, 100)")
