"""Virtual devices against a fake ingest (real codecs, real TCP on 127.0.0.1): login, ACKs,
resends after a lost ACK, offline uploads, commands, and refused authentications."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from libs.protocols.tests.plausibility import verify_position
from libs.simulator.tests.fake_server import FakeServer, Received
from trackstream_protocols import gt06, jt808
from trackstream_protocols.model import Fix
from trackstream_simulator.device import DeviceSettings, VirtualDevice
from trackstream_simulator.fleet import dialect_for
from trackstream_simulator.identities import gt06_identity, jt808_identity
from trackstream_simulator.route import generate_route
from trackstream_simulator.stats import Counters, Ledger

SEED = 7
START = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)
#: a position every 0.05 s real time; no random alarms or heartbeats unless a test asks
FAST: dict[str, Any] = {
    "interval_s": 10.0,
    "speedup": 200.0,
    "start_time": START,
    "ack_timeout_s": 0.3,
    "backoff_s": (0.02, 0.1),
    "alarm_probability": 0.0,
    "heartbeat_s": 1e6,
    "overspeed_kmh": 1000.0,
}


def make_device(
    server: FakeServer, port: int, *, edition: str = "2013", **overrides: Any
) -> VirtualDevice:
    if server.protocol == "gt06":
        identity = gt06_identity(SEED, 0)
    else:
        identity = jt808_identity(SEED, 0, fraction_2019=1.0 if edition == "2019" else 0.0)
    settings = DeviceSettings(port=port, **{**FAST, **overrides})
    return VirtualDevice(
        identity, dialect_for(identity), generate_route(SEED), settings, Counters(), seed=SEED
    )


@asynccontextmanager
async def serving(protocol: str, **options: Any) -> AsyncIterator[tuple[FakeServer, int]]:
    server = FakeServer(protocol, **options)  # type: ignore[arg-type]
    port = await server.start()
    try:
        yield server, port
    finally:
        await server.stop()


@asynccontextmanager
async def running(device: VirtualDevice) -> AsyncIterator[None]:
    """Run ``device``; on exit stop it and wait for it to deliver everything (max 5 s)."""
    stop = asyncio.Event()
    task = asyncio.create_task(device.run(stop))
    try:
        yield
    finally:
        stop.set()
        async with asyncio.timeout(5):
            await task


def fixes(received: list[Received]) -> list[Fix]:
    out: list[Fix] = []
    for r in received:
        if isinstance(r.message, jt808.Jt808Packet):
            out += jt808.positions(r.message.message)
        else:
            fix = getattr(r.message, "fix", None)
            if fix is not None:
                out.append(fix)
    return out


def location_kind(protocol: str) -> type:
    return gt06.Gt06Location if protocol == "gt06" else jt808.Location


def assert_books_balance(device: VirtualDevice) -> None:
    c = device.counters
    assert c.sent > 0 and c.sent == c.acked
    assert c.rejected == c.unexpected_acks == 0
    assert device.ledger() == Ledger()


PROTOCOLS = [("gt06", "2013"), ("jt808", "2013"), ("jt808", "2019")]
IDS = ["gt06", "jt808-2013", "jt808-2019"]


# --- logging in, sending, getting ACKs -----------------------------------------------------------


@pytest.mark.parametrize(("protocol", "edition"), PROTOCOLS, ids=IDS)
async def test_device_logs_in_and_every_position_is_acknowledged(
    protocol: str, edition: str
) -> None:
    async with serving(protocol) as (server, port):
        device = make_device(server, port, edition=edition)
        async with running(device):
            await server.wait_until(lambda: len(server.messages(location_kind(protocol))) >= 6)
        first = server.received[0]
        if protocol == "gt06":
            login = first.gt06
            assert isinstance(login, gt06.Gt06Login)
            assert login.imei == device.identity.identifier
            assert login.timezone == timezone(timedelta(hours=3))
        else:
            register, auth = server.received[0].jt808, server.received[1].jt808
            assert isinstance(register.message, jt808.Register)
            assert isinstance(auth.message, jt808.Authenticate)
            assert auth.message.auth_code == server.auth_code
            assert register.header.edition == auth.header.edition == edition
            assert register.header.phone.lstrip("0") == device.identity.identifier.lstrip("0")
        positions = fixes(server.received)
        assert len(positions) >= 6
        # one position per simulated interval, in order, plausible, live (not archived)
        times = [p.fix_time for p in positions]
        assert START <= times[0] < START + timedelta(seconds=10)  # the device's phase
        assert all(b - a == timedelta(seconds=10) for a, b in itertools.pairwise(times))
        for p in positions:
            verify_position(p, now=START + timedelta(hours=1))
            assert p.valid and not p.attributes.get("archive")
        assert server.connections == 1
        assert_books_balance(device)
        assert device.counters.positions_acked == len(positions)
        assert device.counters.logins == 1 and device.counters.reconnects == 0


async def test_heartbeats_and_alarms_are_sent_and_acknowledged() -> None:
    async with serving("jt808") as (server, port):
        device = make_device(server, port, heartbeat_s=30.0, alarm_probability=0.5)
        async with running(device):
            await server.wait_until(lambda: len(server.messages(jt808.Heartbeat)) >= 2)
        alarms = [p for p in fixes(server.received) if "alarm" in p.attributes]
        assert alarms and {p.attributes["alarm"] for p in alarms} <= {"sos", "powerOff"}
        assert device.counters.alarms == len(alarms)
        assert device.counters.heartbeats_acked == device.counters.heartbeats_sent >= 2
        assert_books_balance(device)

    async with serving("gt06") as (server, port):
        device = make_device(server, port, alarm_probability=1.0)
        async with running(device):
            await server.wait_until(lambda: len(server.messages(gt06.Gt06Alarm)) >= 3)
        for r in server.messages(gt06.Gt06Alarm):
            alarm = r.gt06
            assert isinstance(alarm, gt06.Gt06Alarm) and alarm.alarm in ("sos", "powerCut")
        assert_books_balance(device)


# --- a withheld ACK: the message is resent, verbatim, after reconnecting -------------------------


@pytest.mark.parametrize(("protocol", "edition"), PROTOCOLS, ids=IDS)
async def test_an_unacknowledged_message_is_resent_after_reconnecting(
    protocol: str, edition: str
) -> None:
    kind = location_kind(protocol)
    withheld: list[Received] = []

    def withhold_first_location(r: Received) -> bool:
        message = r.message.message if isinstance(r.message, jt808.Jt808Packet) else r.message
        if isinstance(message, kind) and not withheld:
            withheld.append(r)
            return True
        return False

    async with serving(protocol, withhold=withhold_first_location) as (server, port):
        device = make_device(server, port, edition=edition)
        async with running(device):
            await server.wait_until(lambda: any(r.connection == 2 for r in server.messages(kind)))
        [lost] = withheld
        again = [r for r in server.messages(kind) if r.raw == lost.raw]
        assert [r.connection for r in again] == [1, 2]  # same bytes, same serial
        # on the new connection it is the first data message, before anything newer
        second = [r for r in server.messages(kind) if r.connection == 2]
        assert second[0].raw == lost.raw
        # nothing else was written on the first connection after it (window 1: wait for ACK)
        assert [r for r in server.messages(kind) if r.connection == 1][-1].raw == lost.raw
        c = device.counters
        assert (c.ack_timeouts, c.reconnects, c.resends) == (1, 1, 1)
        assert_books_balance(device)


async def test_a_window_lets_several_messages_wait_for_their_acks() -> None:
    held: list[Received] = []

    def hold_three(r: Received) -> bool:
        if isinstance(r.message, gt06.Gt06Location) and len(held) < 3:
            held.append(r)
            return True
        return False

    async with serving("gt06", withhold=hold_three) as (server, port):
        device = make_device(server, port, window=3, ack_timeout_s=0.5)
        async with running(device):
            await server.wait_until(
                lambda: server.connections >= 2 and len(server.messages(gt06.Gt06Location)) >= 8
            )
        first_connection = [r.raw for r in server.messages(gt06.Gt06Location) if r.connection == 1]
        assert first_connection == [
            r.raw for r in held
        ]  # three in flight, then the window was full
        second = [r.raw for r in server.messages(gt06.Gt06Location) if r.connection == 2]
        assert second[:3] == first_connection  # resent in their original order
        assert device.counters.resends == 3
        assert_books_balance(device)


# --- offline periods: buffered, then uploaded late and flagged as such ---------------------------


@pytest.mark.parametrize("edition", ["2013", "2019"])
async def test_offline_positions_arrive_as_a_blind_area_batch(edition: str) -> None:
    async with serving("jt808") as (server, port):
        device = make_device(
            server, port, edition=edition, offline_probability=1.0, offline_positions=(4, 4)
        )
        async with running(device):
            await server.wait_until(lambda: bool(server.messages(jt808.LocationBatch)))
        first_batch = server.messages(jt808.LocationBatch)[0]
        batch = first_batch.jt808.message
        assert isinstance(batch, jt808.LocationBatch)
        assert batch.archive and batch.batch_type == 1
        assert first_batch.connection >= 2 and len(batch.locations) >= 4
        live_before = [
            p
            for r in server.messages(jt808.Location)
            if r.connection < first_batch.connection
            for p in fixes([r])
        ]
        archived = [location.fix for location in batch.locations]
        # consecutive positions, recorded after the last live one before the gap
        for a, b in itertools.pairwise([*live_before[-1:], *archived]):
            assert b.fix_time - a.fix_time == timedelta(seconds=10)
        for fix in archived:
            verify_position(fix, now=START + timedelta(hours=1))
            assert fix.attributes["archive"] is True
        c = device.counters
        assert c.offline_periods >= 1 and c.archived_sent >= 4
        assert_books_balance(device)


async def test_one_position_gaps_end_before_the_connection_notices_and_still_upload() -> None:
    async with serving("jt808") as (server, port):
        device = make_device(server, port, offline_probability=1.0, offline_positions=(1, 1))
        async with running(device):
            await server.wait_until(lambda: len(server.messages(jt808.LocationBatch)) >= 3)
        times = [p.fix_time for p in fixes(server.received)]
        assert all(b - a == timedelta(seconds=10) for a, b in itertools.pairwise(times))
        assert device.counters.offline_periods >= 3
        assert_books_balance(device)


async def test_offline_positions_are_reuploaded_one_by_one_by_gt06() -> None:
    def reuploaded() -> list[Received]:
        return [
            r for r in server.messages(gt06.Gt06Location) if fixes([r])[0].attributes["archive"]
        ]

    async with serving("gt06") as (server, port):
        device = make_device(server, port, offline_probability=1.0, offline_positions=(4, 4))
        async with running(device):
            await server.wait_until(lambda: len(reuploaded()) >= 4)
        archived = reuploaded()
        assert all(r.connection >= 2 for r in archived)
        assert len({r.raw for r in archived}) == len(archived)  # one frame per position
        gap = fixes([r for r in archived if r.connection == archived[0].connection])
        assert len(gap) >= 4
        for a, b in itertools.pairwise(gap):
            assert b.fix_time - a.fix_time == timedelta(seconds=10)
        assert_books_balance(device)


async def test_positions_recorded_while_the_server_is_down_are_uploaded_later() -> None:
    async with serving("jt808") as (server, port):
        device = make_device(server, port)
        async with running(device):
            await server.wait_until(lambda: len(server.messages(jt808.Location)) >= 2)
            server.refusing = True
            server.drop()
            # the device keeps knocking (each refusal wakes the server) and keeps recording
            await server.wait_until(lambda: device.ledger().buffered >= 3)
            server.refusing = False
            await server.wait_until(lambda: bool(server.messages(jt808.LocationBatch)))
        assert device.counters.disconnects >= 2  # the drop, and each refused attempt
        assert device.counters.logins == 2
        times = [p.fix_time for p in fixes(server.received)]
        assert times == sorted(times) and len(set(times)) == len(times)  # nothing lost, no gaps
        assert all(b - a == timedelta(seconds=10) for a, b in itertools.pairwise(times))
        assert_books_balance(device)


# --- commands ------------------------------------------------------------------------------------


async def test_gt06_commands_are_answered_with_0x21_echoing_the_server_flag() -> None:
    async with serving("gt06") as (server, port):
        device = make_device(server, port)
        async with running(device):
            await server.wait_until(lambda: bool(server.messages(gt06.Gt06Location)))
            server.send(gt06.engine_stop_command(serial=1, server_flag=0xABCD0001))
            server.send(gt06.encode_command("STATUS#", serial=2, server_flag=7))
            await server.wait_until(lambda: len(server.messages(gt06.Gt06TextReply)) == 2)
        replies = [r.gt06 for r in server.messages(gt06.Gt06TextReply)]
        assert all(isinstance(r, gt06.Gt06TextReply) for r in replies)
        assert [(r.protocol, r.server_flag, r.text) for r in replies] == [  # type: ignore[attr-defined]
            (0x21, 0xABCD0001, "Cut off the fuel supply: Success!"),
            (0x21, 7, "STATUS:OK"),
        ]
        assert device.counters.commands == 2
        assert_books_balance(device)  # replies are not data and expect no ACK


async def test_jt808_commands_are_answered_with_a_terminal_general_response() -> None:
    async with serving("jt808") as (server, port):
        device = make_device(server, port, edition="2019")
        async with running(device):
            await server.wait_until(lambda: bool(server.messages(jt808.Location)))
            to = server.received[0].jt808.header.address
            text, control, photo = server.next_serial(), server.next_serial(), server.next_serial()
            server.send(jt808.encode_text_message(to, text, text="Hello driver"))
            server.send(
                jt808.encode_terminal_control(
                    to, control, command=jt808.TerminalControlCommand.RESET
                )
            )
            server.send(jt808.encode_take_photo(to, photo, channel=1))
            await server.wait_until(lambda: len(server.messages(jt808.TerminalResponse)) == 3)
        replies = [r.jt808.message for r in server.messages(jt808.TerminalResponse)]
        assert replies == [
            jt808.TerminalResponse(text, 0x8300, 0),
            jt808.TerminalResponse(control, 0x8105, 0),
            jt808.TerminalResponse(photo, 0x8801, 3),  # unsupported
        ]
        assert all(r.jt808.header.is_2019 for r in server.messages(jt808.TerminalResponse))
        assert_books_balance(device)


# --- JT/T 808 authentication ---------------------------------------------------------------------


async def test_jt808_registers_once_and_registers_again_when_its_code_is_refused() -> None:
    async with serving("jt808") as (server, port):
        device = make_device(server, port)
        async with running(device):
            await server.wait_until(lambda: bool(server.messages(jt808.Location)))
            server.drop()
            await server.wait_until(
                lambda: (
                    server.connections == 2
                    and bool(server.messages(jt808.Location)[-1].connection == 2)
                )
            )
            server.auth_code = "AUTH-0002"  # the platform forgot the terminal
            server.drop()
            await server.wait_until(lambda: server.messages(jt808.Location)[-1].connection == 3)

        def handshake(connection: int) -> list[object]:
            out: list[object] = []
            for r in server.received:
                message = r.jt808.message
                if r.connection == connection and isinstance(
                    message, jt808.Register | jt808.Authenticate
                ):
                    out.append(message if isinstance(message, jt808.Authenticate) else "register")
            return out

        assert handshake(1) == ["register", jt808.Authenticate("AUTH-0001")]
        assert handshake(2) == [jt808.Authenticate("AUTH-0001")]  # remembered across connections
        assert handshake(3) == [
            jt808.Authenticate("AUTH-0001"),
            "register",
            jt808.Authenticate("AUTH-0002"),
        ]
        assert device.counters.logins == 3
        assert_books_balance(device)


# --- a broken server -----------------------------------------------------------------------------


async def test_acks_echoing_the_wrong_serial_are_counted_and_nothing_counts_as_acknowledged() -> (
    None
):
    async with serving("gt06", ack_serial_offset=1) as (server, port):
        device = make_device(server, port)
        stop = asyncio.Event()
        task = asyncio.create_task(device.run(stop))
        await server.wait_until(lambda: server.connections >= 2)
        stop.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        c = device.counters
        assert c.acked == 0 and c.unexpected_acks >= 1 and c.ack_timeouts >= 1
        assert c.sent >= 1 and device.ledger().in_flight == c.sent  # kept for resending
