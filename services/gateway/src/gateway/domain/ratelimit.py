"""Token buckets per credential: ``rate`` requests a second on average, ``burst`` at once."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: seconds until a request would be allowed (0 when allowed)
    retry_after_s: float
    #: seconds until the bucket is full again
    reset_s: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, *, max_buckets: int = 100_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate_per_s
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._max_buckets = max_buckets

    def take(self, key: str, now: float) -> Decision:
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= 1.0 - 1e-9  # float dust must not refuse a due request
        if allowed:
            tokens = max(0.0, tokens - 1.0)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_buckets:
            self._buckets.popitem(last=False)  # the longest idle bucket is full anyway
        retry = 0.0 if allowed else (1.0 - tokens) / self.rate
        return Decision(
            allowed=allowed,
            limit=self.burst,
            remaining=math.floor(tokens),
            retry_after_s=retry,
            reset_s=(self.burst - tokens) / self.rate,
        )
