"""One virtual tracker: drives its route, talks to ingest over TCP, behaves like real hardware.

Two coroutines per device:

* the **ticker** produces a position every ``interval_s`` simulated seconds (``interval_s /
  speedup`` real seconds), with occasional alarms (SOS or power cut at random, overspeed when
  the vehicle goes above ``overspeed_kmh``) and a heartbeat every ``heartbeat_s``. While the
  device is logged in, each becomes a message in the send queue; while it is offline (a
  simulated coverage gap, or a connection that failed) positions go to an offline store.
* the **connection loop** connects, logs in (GT06 login; JT/T 808 register once, then
  authenticate), resends what was written before but never acknowledged (verbatim, same serial),
  uploads the offline store (JT/T 808 as 0x0704 blind-area batches, GT06 as re-upload-flagged
  0x22 one by one), then sends the queue with at most ``window`` messages awaiting an
  acknowledgement. It answers server commands as they come. A missing acknowledgement after
  ``ack_timeout_s``, a refused login, a reset or garbled bytes drop the connection; the device
  reconnects with exponential backoff and jitter.

A data message leaves the device's books only when the server acknowledged it, which is what
proves that ingest acknowledges only after a durable publish: kill ingest mid-run and every
position it acknowledged must be in Kafka, and every one it did not is resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from trackstream_protocols import ProtocolError
from trackstream_protocols.model import Fix
from trackstream_simulator.codec import (
    Ack,
    AckKey,
    Alarm,
    Command,
    Dialect,
    HandshakeRefused,
    Outbound,
    Reading,
)
from trackstream_simulator.identities import Identity
from trackstream_simulator.route import Route
from trackstream_simulator.stats import Counters, Ledger

__all__ = ["AckTimeout", "DeviceSettings", "VirtualDevice"]

log = logging.getLogger(__name__)

Link = Literal["connecting", "up", "down", "offline"]


class AckTimeout(Exception):
    """The server did not acknowledge a message within ``ack_timeout_s``."""


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """How every device of a fleet behaves; times are simulated unless they say *real*."""

    port: int
    host: str = "127.0.0.1"
    #: simulated seconds between two positions
    interval_s: float = 10.0
    #: simulated seconds per real second
    speedup: float = 1.0
    #: simulated time of the first position (aware); default: when the device starts
    start_time: datetime | None = None
    heartbeat_s: float = 180.0
    #: chance per position of an SOS or power-cut alarm
    alarm_probability: float = 0.005
    overspeed_kmh: float = 90.0
    #: chance per position, while connected, that a coverage gap starts
    offline_probability: float = 0.0
    #: how many positions a coverage gap lasts (inclusive range)
    offline_positions: tuple[int, int] = (3, 12)
    #: positions the offline store holds; the oldest are dropped beyond it
    max_buffer: int = 10_000
    #: real seconds to wait for an acknowledgement before dropping the connection
    ack_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    #: first and largest real backoff between connection attempts
    backoff_s: tuple[float, float] = (0.5, 30.0)
    #: data messages awaiting acknowledgement at once (1: wait for each ACK before the next)
    window: int = 1

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.speedup <= 0:
            raise ValueError("interval and speedup must be positive")
        if self.window < 1:
            raise ValueError("window must be at least 1")
        low, high = self.offline_positions
        if not 1 <= low <= high:
            raise ValueError("offline_positions must be 1 <= low <= high")


@dataclass(slots=True)
class _Pending:
    message: Outbound
    attempts: int = 0
    sent_at: float = 0.0


class VirtualDevice:
    """A tracker; ``run`` it until ``stop`` is set, after which it drains and returns."""

    def __init__(
        self,
        identity: Identity,
        dialect: Dialect,
        route: Route,
        settings: DeviceSettings,
        counters: Counters,
        *,
        seed: int = 1,
    ) -> None:
        self.identity = identity
        self.dialect = dialect
        self.route = route
        self.settings = settings
        self.counters = counters
        name = f"{seed}:{identity.protocol}:{identity.index}"
        #: what the device does (route phase, rolls); timing-dependent draws use ``_jitter``
        self._rng = random.Random(f"trackstream-device:{name}")
        self._jitter = random.Random(f"trackstream-jitter:{name}")
        self._real_interval = settings.interval_s / settings.speedup
        #: real seconds after start of the first tick, so a fleet does not tick in lockstep
        self._phase_s = self._rng.uniform(0.0, self._real_interval)
        self._route_offset_s = self._rng.uniform(0.0, route.cycle_s)
        self._altitude_m = float(self._rng.randint(5, 140))
        self._heartbeat_every = max(round(settings.heartbeat_s / settings.interval_s), 1)
        self._queue: deque[_Pending] = deque()
        self._in_flight: dict[AckKey, _Pending] = {}
        self._offline: deque[Reading] = deque()
        self._waiters: dict[AckKey, asyncio.Future[Ack]] = {}
        self._wake = asyncio.Event()
        self._online = asyncio.Event()
        self._online.set()
        self._link: Link = "connecting"
        self._offline_left = 0
        self._draining = False
        self._failures = 0
        self._has_connected = False
        self._writer: asyncio.StreamWriter | None = None
        self._previous_speed = 0.0

    # -- state -------------------------------------------------------------------------------

    @property
    def link(self) -> Link:
        return self._link

    def ledger(self) -> Ledger:
        pending = (*self._in_flight.values(), *self._queue)
        data = [p for p in pending if p.message.kind != "heartbeat"]
        in_flight = sum(1 for p in data if p.attempts)
        queued = len(data) - in_flight
        return Ledger(in_flight=in_flight, queued=queued, buffered=len(self._offline))

    def _drained(self) -> bool:
        return self._draining and not (self._queue or self._in_flight or self._offline)

    # -- main --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set, then deliver everything outstanding and return (cancel
        the task to give up on that)."""
        self.counters.devices += 1
        connections = asyncio.create_task(self._connection_loop(), name=f"{self.name}-link")
        try:
            await self._tick_loop(stop)
            self._draining = True
            if self._link == "offline":
                self._end_offline()
            self._wake.set()
            await connections
        finally:
            connections.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connections

    @property
    def name(self) -> str:
        return f"{self.identity.protocol}-{self.identity.index}"

    # -- the ticker --------------------------------------------------------------------------

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        start_time = self.settings.start_time or datetime.now(UTC).replace(microsecond=0)
        started = loop.time()
        k = 0
        while True:
            due = started + self._phase_s + k * self._real_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(due - loop.time(), 0.0)):
                    await stop.wait()
            if stop.is_set():
                return
            sim_s = (self._phase_s + k * self._real_interval) * self.settings.speedup
            self._tick(k, start_time + timedelta(seconds=sim_s))
            k += 1

    def _tick(self, k: int, when: datetime) -> None:
        settings, rng = self.settings, self._rng
        sample = self.route.at(self._route_offset_s + k * settings.interval_s)
        fix = Fix(
            fix_time=when.replace(microsecond=0),
            latitude=sample.latitude,
            longitude=sample.longitude,
            speed_kmh=sample.speed_kmh,
            course_deg=sample.course_deg,
            valid=True,
            satellites=rng.randint(6, 14),
            altitude_m=self._altitude_m,
        )
        # draw every roll on every tick, so a device's randomness does not depend on timing
        gap_roll, alarm_roll, alarm_kind = rng.random(), rng.random(), rng.random()
        gap_length = rng.randint(*settings.offline_positions)
        alarm: Alarm | None = None
        if sample.speed_kmh > settings.overspeed_kmh >= self._previous_speed:
            alarm = "overspeed"
        elif alarm_roll < settings.alarm_probability:
            alarm = "sos" if alarm_kind < 0.5 else "powerCut"
        self._previous_speed = sample.speed_kmh
        reading = Reading(fix, sample.moving, sample.odometer_m, rng.randint(12, 31), alarm)
        self.counters.positions += 1

        if self._link == "up" and gap_roll < settings.offline_probability:
            self._start_offline(gap_length)
        if self._link in ("up", "connecting"):
            self._enqueue(self.dialect.position(reading))
            if alarm is not None:
                self.counters.alarms += 1
            if self._link == "up" and k % self._heartbeat_every == self._heartbeat_every - 1:
                self._enqueue(self.dialect.heartbeat())
        else:
            self._store(Reading(fix, reading.ignition, reading.odometer_m, reading.rssi))
        if self._offline_left:
            self._offline_left -= 1
            if not self._offline_left:
                self._end_offline()

    def _enqueue(self, message: Outbound) -> None:
        self._queue.append(_Pending(message))
        self._wake.set()

    def _store(self, reading: Reading) -> None:
        if len(self._offline) >= self.settings.max_buffer:
            self._offline.popleft()
            self.counters.dropped_positions += 1
        self._offline.append(reading)

    def _start_offline(self, positions: int) -> None:
        log.debug("%s: offline for %d positions", self.name, positions)
        self.counters.offline_periods += 1
        self._offline_left = positions
        self._link = "offline"
        self._online.clear()
        self._wake.set()

    def _end_offline(self) -> None:
        self._offline_left = 0
        self._link = "down"
        self._online.set()

    # -- the connection loop -----------------------------------------------------------------

    async def _connection_loop(self) -> None:
        s = self.settings
        while not self._drained():
            if self._link == "offline":
                await self._online.wait()
                continue
            try:
                async with asyncio.timeout(s.connect_timeout_s):
                    reader, writer = await asyncio.open_connection(s.host, s.port)
            except (OSError, TimeoutError) as exc:
                log.debug("%s: cannot connect: %r", self.name, exc)
                self.counters.connect_failures += 1
                self._link = "down"
                await self._backoff()
                continue
            self.counters.connections += 1
            if self._has_connected:
                self.counters.reconnects += 1
            self._has_connected = True
            failed = False
            try:
                await self._session(reader, writer)
            except (
                OSError,
                EOFError,
                TimeoutError,
                AckTimeout,
                HandshakeRefused,
                ProtocolError,
            ) as exc:
                log.debug("%s: connection lost: %r", self.name, exc)
                self.counters.disconnects += 1
                failed = True
            finally:
                self._teardown(writer)
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            if failed:
                await self._backoff()

    async def _backoff(self) -> None:
        self._failures += 1
        first, largest = self.settings.backoff_s
        delay = min(largest, first * 2 ** (self._failures - 1))
        await asyncio.sleep(delay * self._jitter.uniform(0.5, 1.0))

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.dialect.reset()
        reading = asyncio.create_task(self._read_loop(reader), name=f"{self.name}-read")
        try:
            await self.dialect.handshake(self._request)
            self.counters.logins += 1
            self._failures = 0
            if self._offline:
                for message in self.dialect.archive(list(self._offline)):
                    self._queue.append(_Pending(message))
                self._offline.clear()
            self._link = "up"  # (gaps start only while up, so none is running now)
            self.counters.connected += 1
            try:
                await self._write_loop(writer, reading)
            finally:
                self.counters.connected -= 1
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading

    async def _request(self, message: Outbound) -> Ack:
        """Handshake step: send ``message`` and wait for its answer."""
        writer = self._writer
        assert writer is not None
        answer: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._waiters[message.key] = answer
        try:
            self._write_frame(writer, message.frame)
            await writer.drain()
            async with asyncio.timeout(self.settings.ack_timeout_s):
                return await answer
        except TimeoutError:
            self.counters.ack_timeouts += 1
            raise AckTimeout(f"no answer to the {message.kind} message") from None
        finally:
            self._waiters.pop(message.key, None)

    async def _write_loop(self, writer: asyncio.StreamWriter, reading: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.settings.ack_timeout_s
        while True:
            self._wake.clear()
            if reading.done():
                error = reading.exception()
                raise error if error is not None else ConnectionResetError("closed by the server")
            if self._link != "up" or self._drained():
                return  # a coverage gap started (and maybe ended already): hang up
            now = loop.time()
            oldest = next(iter(self._in_flight.values()), None)
            if oldest is not None and now - oldest.sent_at >= timeout:
                self.counters.ack_timeouts += 1
                raise AckTimeout(f"{oldest.message.kind} {oldest.message.key} not acknowledged")
            if self._queue and len(self._in_flight) < self.settings.window:
                self._send(writer, self._queue.popleft(), now)
                await writer.drain()
                continue
            wait = None if oldest is None else oldest.sent_at + timeout - now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _write_frame(self, writer: asyncio.StreamWriter, frame: bytes) -> None:
        writer.write(frame)
        self.counters.frames_written += 1
        self.counters.bytes_written += len(frame)

    def _send(self, writer: asyncio.StreamWriter, pending: _Pending, now: float) -> None:
        message, c = pending.message, self.counters
        self._write_frame(writer, message.frame)
        if pending.attempts:
            c.resends += 1
        elif message.kind == "heartbeat":
            c.heartbeats_sent += 1
        else:
            c.sent += 1
            c.positions_sent += message.positions
            if message.archived:
                c.archived_sent += message.positions
        pending.attempts += 1
        pending.sent_at = now
        self._in_flight[message.key] = pending

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(65536):
                for item in self.dialect.feed(data):
                    if isinstance(item, Command):
                        self._answer(item)
                    else:
                        self._acknowledged(item)
                self._wake.set()
        finally:
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionResetError("connection lost during login"))
            self._wake.set()

    def _answer(self, command: Command) -> None:
        log.debug("%s: command %s", self.name, command.description)
        self.counters.commands += 1
        if self._writer is not None:
            self._write_frame(self._writer, command.reply)

    def _acknowledged(self, ack: Ack) -> None:
        waiter = self._waiters.pop(ack.key, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(ack)
            return
        pending = self._in_flight.pop(ack.key, None)
        c = self.counters
        if pending is None:
            c.unexpected_acks += 1
            log.debug("%s: acknowledgement %s matches nothing sent", self.name, ack.key)
        elif pending.message.kind == "heartbeat":
            c.heartbeats_acked += 1
        elif ack.result != 0:
            c.rejected += 1
        else:
            c.acked += 1
            c.positions_acked += pending.message.positions
            c.latencies.add(asyncio.get_running_loop().time() - pending.sent_at)

    def _teardown(self, writer: asyncio.StreamWriter) -> None:
        """Close the connection; what it left unacknowledged goes back to the queue's head."""
        writer.close()
        self._writer = None
        unanswered = list(self._in_flight.values())
        self._in_flight.clear()
        for pending in reversed(unanswered):
            if pending.message.kind == "heartbeat":
                self.counters.heartbeats_lost += 1
            else:
                self._queue.appendleft(pending)
        if self._link != "offline":
            self._link = "down"
