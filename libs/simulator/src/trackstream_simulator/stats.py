"""Counters the virtual devices keep, the progress line and the final summary.

The ledger covers *data* messages (positions, alarms, blind-area batches): the ones ingest must
publish durably before it acknowledges them. Each is counted in ``sent`` the first time it is
written, and leaves the in-flight set only through an acknowledgement (``acked``, or
``rejected`` when a JT/T 808 server answers with a failure result). A device never gives up on
one: after a lost connection it resends it verbatim (same serial). So at any time::

    sent == acked + rejected + in_flight

and :attr:`Summary.unaccounted` (``sent - acked - rejected - in_flight``) must be 0. An
acknowledgement that matches nothing the device is waiting for (a wrong serial echoed, or one
message acknowledged twice) is counted in ``unexpected_acks``. Handshakes and heartbeats are
counted apart: a device logs in afresh on every connection, and a heartbeat that went
unanswered is not worth resending.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Counters", "Ledger", "Reservoir", "Summary", "percentile"]


class Reservoir:
    """A uniform random sample of at most ``capacity`` values from a stream (Vitter's
    algorithm R), so long runs keep latency percentiles without keeping every latency."""

    __slots__ = ("_rng", "capacity", "seen", "values")

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self.seen = 0
        self.values: list[float] = []
        self._rng = random.Random(0)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.capacity:
            self.values.append(value)
        else:
            slot = self._rng.randrange(self.seen)
            if slot < self.capacity:
                self.values[slot] = value


@dataclass(slots=True)
class Counters:
    """Running totals for a group of devices (one instance per protocol)."""

    devices: int = 0
    #: devices logged in right now (a gauge)
    connected: int = 0
    connections: int = 0
    #: connections after a device's first one
    reconnects: int = 0
    connect_failures: int = 0
    #: connections that ended in an error (refused handshake, ack timeout, reset, bad bytes)
    disconnects: int = 0
    ack_timeouts: int = 0
    logins: int = 0
    frames_written: int = 0
    bytes_written: int = 0
    #: data messages written at least once
    sent: int = 0
    acked: int = 0
    rejected: int = 0
    #: data messages written again after a reconnection
    resends: int = 0
    unexpected_acks: int = 0
    #: positions recorded (every tick of every device)
    positions: int = 0
    positions_sent: int = 0
    positions_acked: int = 0
    #: positions recorded while offline and uploaded late (JT/T 808 batches, GT06 re-uploads)
    archived_sent: int = 0
    #: positions dropped because the offline store was full (never sent)
    dropped_positions: int = 0
    alarms: int = 0
    offline_periods: int = 0
    heartbeats_sent: int = 0
    heartbeats_acked: int = 0
    #: heartbeats still unanswered when their connection ended (not resent)
    heartbeats_lost: int = 0
    #: server commands answered
    commands: int = 0
    #: seconds from the (last) write of a data message to its acknowledgement (a sample)
    latencies: Reservoir = field(default_factory=Reservoir, repr=False)


@dataclass(frozen=True, slots=True)
class Ledger:
    """Where a device's data messages are at one moment."""

    #: written at least once, not acknowledged (on the wire or waiting to be resent)
    in_flight: int = 0
    #: created, never written
    queued: int = 0
    #: positions recorded offline, not yet turned into messages
    buffered: int = 0

    def __add__(self, other: Ledger) -> Ledger:
        return Ledger(
            self.in_flight + other.in_flight,
            self.queued + other.queued,
            self.buffered + other.buffered,
        )


def percentile(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


_SUMMED = [name for name in Counters.__dataclass_fields__ if name not in ("latencies",)]


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals of one group (or of the whole fleet) at the end of a run."""

    counters: dict[str, int]
    ledger: Ledger
    latencies: tuple[float, ...]
    elapsed_s: float

    @classmethod
    def of(cls, groups: list[tuple[Counters, Ledger]], elapsed_s: float) -> Summary:
        totals = dict.fromkeys(_SUMMED, 0)
        latencies: list[float] = []
        ledger = Ledger()
        for counters, group_ledger in groups:
            for name in _SUMMED:
                totals[name] += getattr(counters, name)
            latencies += counters.latencies.values
            ledger = ledger + group_ledger
        return cls(totals, ledger, tuple(latencies), elapsed_s)

    def __getitem__(self, name: str) -> int:
        return self.counters[name]

    @property
    def unaccounted(self) -> int:
        """Data messages sent that are neither acknowledged, rejected nor still in flight."""
        c = self.counters
        return c["sent"] - c["acked"] - c["rejected"] - self.ledger.in_flight

    @property
    def rate(self) -> float:
        """Acknowledged data messages per second over the run."""
        return self.counters["acked"] / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.counters)
        data.pop("connected", None)
        data.update(asdict(self.ledger))
        data["unaccounted"] = self.unaccounted
        data["elapsed_s"] = round(self.elapsed_s, 3)
        data["acked_per_s"] = round(self.rate, 2)
        values = list(self.latencies)
        data["ack_latency_ms"] = {
            name: None if (v := percentile(values, p)) is None else round(v * 1000, 3)
            for name, p in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))
        }
        return data


def progress_line(elapsed_s: float, totals: Summary, *, written_per_s: float) -> str:
    """One line of progress: connections, the ledger, resends, reconnects and rates."""
    c = totals.counters
    return (
        f"[{elapsed_s:7.1f}s] connected {c['connected']}/{c['devices']} | "
        f"sent {c['sent']} acked {c['acked']} in-flight {totals.ledger.in_flight} "
        f"queued {totals.ledger.queued} buffered {totals.ledger.buffered} | "
        f"resends {c['resends']} reconnects {c['reconnects']} | "
        f"{written_per_s:.1f} msg/s"
    )


def summary_text(total: Summary, by_protocol: dict[str, Summary]) -> str:
    """The human-readable end-of-run report."""
    lines = [f"Simulated {total['devices']} devices for {total.elapsed_s:.1f} s"]
    for name, group in [*by_protocol.items(), ("total", total)]:
        if not group["devices"]:
            continue
        d = group.to_dict()
        lat = {k: "n/a" if v is None else v for k, v in d["ack_latency_ms"].items()}
        lines.append(
            f"  {name:6} devices {d['devices']:5}  sent {d['sent']:7}  acked {d['acked']:7}  "
            f"rejected {d['rejected']}  in-flight {d['in_flight']}  queued {d['queued']}  "
            f"buffered {d['buffered']}  unaccounted {d['unaccounted']}"
        )
        lines.append(
            f"         positions {d['positions']} (acked {d['positions_acked']}, archived "
            f"{d['archived_sent']}, dropped {d['dropped_positions']})  alarms {d['alarms']}  "
            f"heartbeats {d['heartbeats_acked']}/{d['heartbeats_sent']}  "
            f"commands {d['commands']}"
        )
        lines.append(
            f"         connections {d['connections']} (reconnects {d['reconnects']}, failed "
            f"{d['connect_failures']}, dropped {d['disconnects']}, ack timeouts "
            f"{d['ack_timeouts']})  resends {d['resends']}  unexpected acks "
            f"{d['unexpected_acks']}  {d['acked_per_s']} acked/s  ack latency p50 "
            f"{lat['p50']} ms p99 {lat['p99']} ms"
        )
    return "\n".join(lines)
