"""A fleet of virtual devices: built from a seed, run for a while, drained, summed up.

``run_fleet`` starts every device, prints a progress line every few seconds, and at the end
(``duration_s`` elapsed or ``stop`` set) lets each device deliver what it still holds for up to
``drain_timeout_s`` before giving up on it. The result says what the server acknowledged and
what it did not; :meth:`FleetResult.exit_code` turns that into the process's exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from trackstream_simulator.codec import (
    GT06_UTC_OFFSET,
    Dialect,
    Gt06Dialect,
    Jt808Dialect,
)
from trackstream_simulator.device import DeviceSettings, VirtualDevice
from trackstream_simulator.identities import Identity, gt06_identity, jt808_identity
from trackstream_simulator.route import DEFAULT_CENTRE, generate_route
from trackstream_simulator.stats import Counters, Ledger, Summary, progress_line

__all__ = [
    "EXIT_INCOMPLETE",
    "EXIT_OK",
    "EXIT_UNACCOUNTED",
    "FleetConfig",
    "FleetResult",
    "build_fleet",
    "dialect_for",
    "fleet_identities",
    "run_fleet",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
#: the books do not balance: acked < sent - in-flight, or an ACK matched nothing that was sent
EXIT_UNACCOUNTED = 1
#: ``--strict`` only: something was still unacknowledged (or rejected, or dropped) at the end
EXIT_INCOMPLETE = 3


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything ``trackstream-simulate`` can be told (see ``cli.py`` for the flags)."""

    gt06: int = 5
    jt808: int = 5
    host: str = "127.0.0.1"
    gt06_port: int = 5023
    jt808_port: int = 5015
    #: real seconds to run (0: until stopped)
    duration_s: float = 60.0
    interval_s: float = 10.0
    speedup: float = 1.0
    seed: int = 1
    offline_probability: float = 0.0
    offline_positions: tuple[int, int] = (3, 12)
    alarm_probability: float = 0.005
    heartbeat_s: float = 180.0
    jt808_2019_fraction: float = 0.25
    centre: tuple[float, float] = DEFAULT_CENTRE
    radius_m: float = 4000.0
    ack_timeout_s: float = 10.0
    window: int = 1
    drain_timeout_s: float = 15.0
    progress_s: float = 5.0
    backoff_s: tuple[float, float] = (0.5, 30.0)
    #: simulated time of the first positions; default: so the last ones are "now" (see below)
    start_time: datetime | None = None

    def simulated_start(self, now: datetime) -> datetime:
        """When the simulated clock starts. With a duration and a speedup, it starts early
        enough (``duration * (speedup - 1)`` before ``now``) that fix times never run ahead of
        the wall clock; ingest would rightly distrust positions from the future."""
        if self.start_time is not None:
            return self.start_time
        ahead = self.duration_s * (self.speedup - 1) if self.duration_s > 0 else 0.0
        return (now - timedelta(seconds=ahead)).replace(microsecond=0)


def fleet_identities(config: FleetConfig) -> list[Identity]:
    """Who the devices are: GT06 indexes 0..gt06-1, JT/T 808 indexes 0..jt808-1."""
    return [gt06_identity(config.seed, i) for i in range(config.gt06)] + [
        jt808_identity(config.seed, i, fraction_2019=config.jt808_2019_fraction)
        for i in range(config.jt808)
    ]


def dialect_for(identity: Identity) -> Dialect:
    """The protocol dialect a device of ``identity`` speaks."""
    if identity.protocol == "gt06":
        return Gt06Dialect(identity.identifier, utc_offset=GT06_UTC_OFFSET)
    return Jt808Dialect(
        identity.identifier,
        edition=identity.edition or "2013",
        imei=identity.imei or "",
        plate=f"34 TS {identity.index % 10000:04d}",
    )


def build_fleet(
    config: FleetConfig, counters: dict[str, Counters], *, now: datetime | None = None
) -> list[VirtualDevice]:
    """The devices of ``config``, counting into ``counters[protocol]``."""
    start = config.simulated_start(now or datetime.now(UTC))
    devices = []
    for identity in fleet_identities(config):
        port = config.gt06_port if identity.protocol == "gt06" else config.jt808_port
        settings = DeviceSettings(
            port=port,
            host=config.host,
            interval_s=config.interval_s,
            speedup=config.speedup,
            start_time=start,
            heartbeat_s=config.heartbeat_s,
            alarm_probability=config.alarm_probability,
            offline_probability=config.offline_probability,
            offline_positions=config.offline_positions,
            ack_timeout_s=config.ack_timeout_s,
            window=config.window,
            backoff_s=config.backoff_s,
        )
        route = generate_route(
            f"{config.seed}:{identity.protocol}:{identity.index}",
            centre=config.centre,
            radius_m=config.radius_m,
        )
        devices.append(
            VirtualDevice(
                identity,
                dialect_for(identity),
                route,
                settings,
                counters[identity.protocol],
                seed=config.seed,
            )
        )
    return devices


@dataclass
class FleetResult:
    total: Summary
    by_protocol: dict[str, Summary]
    devices: list[VirtualDevice] = field(repr=False)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 when the books balance; :data:`EXIT_UNACCOUNTED` when a data message the devices
        sent is neither acknowledged, rejected nor still in flight, or when an
        acknowledgement matched nothing sent (a server echoing the wrong serial); with
        ``strict``, :data:`EXIT_INCOMPLETE` when anything was left unacknowledged, rejected
        or dropped, or when no device ever logged in."""
        t = self.total
        if t.unaccounted or t["unexpected_acks"]:
            return EXIT_UNACCOUNTED
        if strict and (
            t.ledger.in_flight
            or t.ledger.queued
            or t.ledger.buffered
            or t["rejected"]
            or t["dropped_positions"]
            or not t["logins"]
        ):
            return EXIT_INCOMPLETE
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "by_protocol": {name: s.to_dict() for name, s in self.by_protocol.items()},
        }


def _summaries(
    devices: list[VirtualDevice], counters: dict[str, Counters], elapsed_s: float
) -> tuple[Summary, dict[str, Summary]]:
    ledgers = {name: Ledger() for name in counters}
    for device in devices:
        ledgers[device.identity.protocol] = ledgers[device.identity.protocol] + device.ledger()
    by_protocol = {
        name: Summary.of([(counters[name], ledgers[name])], elapsed_s) for name in counters
    }
    total = Summary.of([(counters[name], ledgers[name]) for name in counters], elapsed_s)
    return total, by_protocol


async def _report_progress(
    devices: list[VirtualDevice],
    counters: dict[str, Counters],
    every_s: float,
    report: Callable[[str], None],
) -> None:
    loop = asyncio.get_running_loop()
    started = previous_at = loop.time()
    previous = 0
    while True:
        await asyncio.sleep(every_s)
        now = loop.time()
        total, _ = _summaries(devices, counters, now - started)
        written = total["frames_written"]
        rate = (written - previous) / (now - previous_at) if now > previous_at else 0.0
        report(progress_line(now - started, total, written_per_s=rate))
        previous, previous_at = written, now


async def run_fleet(
    config: FleetConfig,
    *,
    stop: asyncio.Event | None = None,
    progress: Callable[[str], None] | None = None,
) -> FleetResult:
    """Run the fleet of ``config`` until ``duration_s`` passed or ``stop`` is set, drain, and
    return the result. Exceptions a device raises (bugs, not network trouble) propagate."""
    stop = stop or asyncio.Event()
    counters = {"gt06": Counters(), "jt808": Counters()}
    devices = build_fleet(config, counters)
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = [asyncio.create_task(d.run(stop), name=d.name) for d in devices]
    reporter = (
        asyncio.create_task(_report_progress(devices, counters, config.progress_s, progress))
        if progress is not None and config.progress_s > 0
        else None
    )
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(config.duration_s if config.duration_s > 0 else None):
                await stop.wait()
    finally:
        stop.set()
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=config.drain_timeout_s)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
            if unfinished:
                log.warning("%d devices still had undelivered messages", len(unfinished))
        if reporter is not None:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    total, by_protocol = _summaries(devices, counters, loop.time() - started)
    return FleetResult(total, by_protocol, devices)
