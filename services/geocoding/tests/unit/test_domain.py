from __future__ import annotations

import math

import pytest

from geocoding.domain.breaker import BreakerState, CircuitBreaker
from geocoding.domain.cache import LruCache
from geocoding.domain.model import address_line, distance_m, possible
from geocoding.domain.movement import Anchor, MovementFilter
from geocoding.domain.offline import OfflineIndex, Town
from geocoding.domain.rate_limit import TokenBucket


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # a call, so the type checker does not narrow it between asserts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lru_cache_evicts_the_least_recently_used_and_counts_hits() -> None:
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.hit_rate == 0.5
    with pytest.raises(ValueError):
        LruCache(0)


def test_movement_filter_compares_with_the_last_looked_up_fix_not_the_previous_one() -> None:
    movement = MovementFilter(50.0, max_devices=10)
    assert movement.unmoved("d", 41.0, 29.0) is None  # never seen
    movement.moved("d", Anchor(41.0, 29.0, "cell"))
    step = 30 / 111_195  # 30 m north, in degrees
    assert movement.unmoved("d", 41.0 + step, 29.0) is not None
    # a slow drift: 30 m, then 60 m from the anchor, although each step is only 30 m
    assert movement.unmoved("d", 41.0 + 2 * step, 29.0) is None
    assert movement.unmoved("other", 41.0, 29.0) is None


def test_movement_filter_forgets_the_least_recently_seen_device() -> None:
    movement = MovementFilter(50.0, max_devices=2)
    for device in ("a", "b", "c"):
        movement.moved(device, Anchor(1.0, 1.0, "x"))
    assert len(movement) == 2
    assert movement.unmoved("a", 1.0, 1.0) is None
    assert movement.unmoved("c", 1.0, 1.0) is not None


def test_breaker_opens_after_failures_then_half_opens_for_one_trial() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert state(breaker) is BreakerState.CLOSED
    breaker.success()  # a success resets the count
    for _ in range(3):
        breaker.failure()
    assert state(breaker) is BreakerState.OPEN and not breaker.allow()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.failure()  # the trial failed: open again for another 10 s
    assert state(breaker) is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert state(breaker) is BreakerState.CLOSED and breaker.allow()


def test_an_abandoned_trial_lets_the_next_caller_try() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=1, clock=clock)
    breaker.failure()
    clock.now += 1
    assert breaker.allow()
    breaker.abandon()
    assert breaker.allow()


def test_token_bucket_allows_the_rate_and_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate_per_s=1.0, burst=2, clock=clock)
    assert bucket.try_acquire() and bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.now += 0.5
    assert not bucket.try_acquire()
    clock.now += 0.5
    assert bucket.try_acquire()
    clock.now += 100  # never more than the burst
    assert sum(bucket.try_acquire() for _ in range(5)) == 2


@pytest.mark.parametrize(
    ("lat", "lon", "ok"),
    [
        (41.0, 29.0, True),
        (-90.0, 180.0, True),
        (0.0, 0.0, False),
        (0.0, 1e-7, True),
        (90.1, 0.0, False),
        (0.0, -180.5, False),
        (math.nan, 1.0, False),
        (1.0, math.inf, False),
    ],
)
def test_impossible_coordinates(lat: float, lon: float, ok: bool) -> None:
    assert possible(lat, lon) is ok


def test_distance_and_address_line() -> None:
    assert distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195, rel=1e-4)
    assert distance_m(0.0, 179.9, 0.0, -179.9) == pytest.approx(22_239, rel=1e-3)
    assert address_line("Singapore", "", "Singapore") == "Singapore"
    assert address_line(" Kehl ", "Baden-Wuerttemberg", "Germany") == (
        "Kehl, Baden-Wuerttemberg, Germany"
    )


def test_offline_search_exact_names_first_accents_ignored_country_filter() -> None:
    towns = [
        Town("Parisot", "Occitanie", "", "FR", 44.26, 1.86),
        Town("Paris", "Ile-de-France", "", "FR", 48.85, 2.35),
        Town("Paris", "Texas", "", "US", 33.66, -95.55),
        Town("Pärnu", "Parnumaa", "", "EE", 58.38, 24.50),
        Town("Lyon", "", "", "FR", 45.75, 4.85),
    ]
    index = OfflineIndex(towns, {"FR": "France", "US": "United States", "EE": "Estonia"})
    assert [(p.name, p.country_code) for p in index.search("paris", limit=5)] == [
        ("Paris", "FR"),
        ("Paris", "US"),
        ("Parisot", "FR"),
    ]
    assert [p.country for p in index.search("PARIS", limit=5, country_code="us")] == [
        "United States"
    ]
    assert [p.name for p in index.search("parnu", limit=5)] == ["Pärnu"]
    assert index.search("paris", limit=1)[0].name == "Paris"
    assert index.search("zzz", limit=5) == []
    assert index.place(45.7, 4.9).name == "Lyon"
    with pytest.raises(ValueError):
        OfflineIndex([], {})
