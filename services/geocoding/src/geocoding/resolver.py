"""From points to places: the H3-cell cache, the offline index (one vectorised query per batch)
and, when configured, an external provider guarded by a rate limit, a circuit breaker and a
timeout, whose failures fall back to the offline answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import h3

from geocoding.domain.breaker import BreakerState, CircuitBreaker
from geocoding.domain.cache import LruCache
from geocoding.domain.model import Place, Source
from geocoding.domain.offline import OfflineIndex
from geocoding.domain.rate_limit import TokenBucket
from geocoding.metrics import BREAKER_OPEN, PROVIDER_CALLS
from geocoding.ports import Provider

log = logging.getLogger(__name__)
T = TypeVar("T")


class GuardedProvider:
    """A provider behind a rate limit, a circuit breaker and a timeout. Every call returns
    within ``timeout_s``; ``None`` means "use the offline answer"."""

    def __init__(
        self,
        provider: Provider,
        *,
        breaker: CircuitBreaker,
        limiter: TokenBucket,
        timeout_s: float,
    ) -> None:
        self.provider = provider
        self.breaker = breaker
        self._limiter = limiter
        self._timeout_s = timeout_s
        self._name = provider.source.value

    async def reverse(self, latitude: float, longitude: float) -> Place | None:
        return await self._call(lambda: self.provider.reverse(latitude, longitude))

    async def search(self, query: str, *, limit: int, country_code: str) -> list[Place] | None:
        return await self._call(
            lambda: self.provider.search(query, limit=limit, country_code=country_code)
        )

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T | None:
        if not self.breaker.allow():
            return self._outcome(None, "breaker_open")
        if not self._limiter.try_acquire():
            self.breaker.abandon()
            return self._outcome(None, "rate_limited")
        was = self.breaker.state
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await call()
        except TimeoutError:
            self._failed(was, "timeout")
            return self._outcome(None, "timeout")
        except Exception as err:  # any failure of the provider: the offline answer is used
            self._failed(was, f"{type(err).__name__}: {err}"[:200])
            return self._outcome(None, "error")
        self.breaker.success()
        if was is not BreakerState.CLOSED:
            log.info("geocoding provider answers again", extra={"provider": self._name})
        BREAKER_OPEN.labels(self._name).set(0)
        return self._outcome(answer, "ok" if answer else "empty")

    def _failed(self, was: BreakerState, reason: str) -> None:
        self.breaker.failure()
        if self.breaker.state is not BreakerState.CLOSED:
            BREAKER_OPEN.labels(self._name).set(1)
            if was is BreakerState.CLOSED:
                log.warning(
                    "geocoding provider failing, breaker open: offline answers meanwhile",
                    extra={"provider": self._name, "reason": reason},
                )

    def _outcome(self, answer: T | None, outcome: str) -> T | None:
        PROVIDER_CALLS.labels(self._name, outcome).inc()
        return answer


class Resolver:
    def __init__(
        self,
        index: OfflineIndex,
        *,
        h3_resolution: int,
        cache_size: int,
        provider: GuardedProvider | None = None,
    ) -> None:
        if not 0 <= h3_resolution <= 15:
            raise ValueError("h3_resolution is 0..15")
        self.index = index
        self.provider = provider
        self.cache: LruCache[str, Place] = LruCache(cache_size)
        self._resolution = h3_resolution

    def cell(self, latitude: float, longitude: float) -> str:
        """The cache key of a point: its H3 cell."""
        return str(h3.latlng_to_cell(latitude, longitude, self._resolution))

    def cached(self, cell: str) -> bool:
        return cell in self.cache

    async def resolve(self, points: Mapping[str, tuple[float, float]]) -> dict[str, Place]:
        """The place of each cell, looked up at the point given for it (its ``distance_m`` is
        not from that point: callers measure from their own fixes). Cached cells are
        answered from the cache; the rest go to the offline index in one query; with a
        provider, cells without a provider answer yet are also asked there (concurrently,
        each within the timeout), and its answers replace the offline ones."""
        found: dict[str, Place] = {}
        missing: dict[str, tuple[float, float]] = {}
        upgradable: dict[str, tuple[float, float]] = {}
        for cell, point in points.items():
            cached = self.cache.get(cell)
            if cached is None:
                missing[cell] = point
                continue
            found[cell] = cached
            if self.provider is not None and cached.source is Source.OFFLINE:
                upgradable[cell] = point
        if missing:
            places = self.index.towns(
                [lat for lat, _ in missing.values()], [lon for _, lon in missing.values()]
            )
            for cell, place in zip(missing, places, strict=True):
                found[cell] = place
                self.cache.put(cell, place)
        if self.provider is not None:
            asked = missing | upgradable
            answers = await asyncio.gather(
                *(self.provider.reverse(lat, lon) for lat, lon in asked.values())
            )
            for cell, answer in zip(asked, answers, strict=True):
                if answer is not None:
                    found[cell] = answer
                    self.cache.put(cell, answer)
        return found

    async def reverse(self, latitude: float, longitude: float) -> Place:
        """One point, on demand: the provider's answer (cached by cell) when it has one in
        time, else the nearest town to this exact point."""
        if self.provider is not None:
            cell = self.cell(latitude, longitude)
            cached = self.cache.get(cell)
            if cached is not None and cached.source is not Source.OFFLINE:
                return cached.seen_from(latitude, longitude)
            answer = await self.provider.reverse(latitude, longitude)
            if answer is not None:
                self.cache.put(cell, answer)
                return answer
        return self.index.place(latitude, longitude)

    async def search(self, query: str, *, limit: int, country_code: str = "") -> list[Place]:
        if self.provider is not None:
            answer = await self.provider.search(query, limit=limit, country_code=country_code)
            if answer:
                return answer[:limit]
        return self.index.search(query, limit=limit, country_code=country_code)
