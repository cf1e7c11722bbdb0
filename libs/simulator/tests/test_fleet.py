"""The fleet and the command line against fake ingest servers, the exit status rules, and the
registration of a fleet in the device registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.protocols.tests.plausibility import verify_position
from libs.simulator.tests.fake_server import FakeServer
from trackstream.identity.v1.device_registry_pb2 import DeviceRegistered
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_protocols import gt06, jt808
from trackstream_protocols.model import Fix
from trackstream_simulator import cli
from trackstream_simulator.fleet import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_UNACCOUNTED,
    FleetConfig,
    FleetResult,
    fleet_identities,
    run_fleet,
)
from trackstream_simulator.registry import (
    DEV_IDENTIFIER_KEY,
    REGISTRY_TOPIC,
    identifier_key,
    register_fleet,
)
from trackstream_simulator.stats import Counters, Ledger, Summary
from trackstream_testing import FakePublisher

FAST: dict[str, Any] = {
    "speedup": 100.0,
    "progress_s": 0.2,
    "ack_timeout_s": 0.5,
    "drain_timeout_s": 3.0,
    "backoff_s": (0.02, 0.1),
    "alarm_probability": 0.05,
}


@asynccontextmanager
async def two_servers(**options: Any) -> AsyncIterator[tuple[FakeServer, FakeServer]]:
    gt06_server, jt808_server = FakeServer("gt06", **options), FakeServer("jt808", **options)
    await gt06_server.start()
    await jt808_server.start()
    try:
        yield gt06_server, jt808_server
    finally:
        await gt06_server.stop()
        await jt808_server.stop()


def ports(g: FakeServer, j: FakeServer) -> dict[str, Any]:
    return {"gt06_port": g.port, "jt808_port": j.port}


def received_fixes(g: FakeServer, j: FakeServer) -> list[Fix]:
    out: list[Fix] = []
    for r in g.received:
        fix = getattr(r.message, "fix", None)
        if fix is not None:
            out.append(fix)
    for r in j.received:
        assert isinstance(r.message, jt808.Jt808Packet)
        out += jt808.positions(r.message.message)
    return out


async def test_a_mixed_fleet_runs_reports_progress_and_balances_its_books() -> None:
    lines: list[str] = []
    async with two_servers() as (g, j):
        config = FleetConfig(
            gt06=3, jt808=4, duration_s=1.0, offline_probability=0.05, **ports(g, j), **FAST
        )
        before = datetime.now(UTC)
        result = await run_fleet(config, progress=lines.append)
        after = datetime.now(UTC)
        assert result.exit_code(strict=True) == EXIT_OK
        total = result.total
        assert total["devices"] == 7 and total["logins"] >= 7
        assert total["sent"] == total["acked"] > 0
        assert total.ledger == Ledger() and total.unaccounted == 0
        assert result.by_protocol["gt06"]["devices"] == 3
        assert result.by_protocol["jt808"]["devices"] == 4
        # every position the devices counted as acknowledged reached the server, exactly once
        positions = received_fixes(g, j)
        assert total["positions_acked"] == total["positions"] == len(positions)
        # both headers, and the 2019 share of the fleet
        editions = {
            r.message.header.edition for r in j.received if isinstance(r.message, jt808.Jt808Packet)
        }
        assert editions == {"2013", "2019"}
        # fix times: simulated ten times faster, but never ahead of the wall clock
        for fix in positions:
            verify_position(fix, now=after)
            assert before - timedelta(seconds=100) <= fix.fix_time <= after
        assert lines and all("connected" in line and "msg/s" in line for line in lines)
        json.dumps(result.to_dict())  # a JSON summary for benchmarks


async def test_identities_and_routes_follow_the_seed() -> None:
    async with two_servers() as (g, j):
        config = FleetConfig(gt06=2, jt808=0, duration_s=0.3, seed=42, **ports(g, j), **FAST)
        await run_fleet(config)
        imeis = {r.message.imei for r in g.received if isinstance(r.message, gt06.Gt06Login)}
    assert imeis == {i.identifier for i in fleet_identities(config)}
    assert fleet_identities(config) == fleet_identities(FleetConfig(gt06=2, jt808=0, seed=42))
    assert fleet_identities(config) != fleet_identities(FleetConfig(gt06=2, jt808=0, seed=43))


async def test_a_server_that_echoes_wrong_serials_makes_the_run_fail() -> None:
    async with two_servers(ack_serial_offset=1) as (g, j):
        config = FleetConfig(
            gt06=1, jt808=1, duration_s=0.3, **{**FAST, "drain_timeout_s": 0.5}, **ports(g, j)
        )
        result = await run_fleet(config)
    total = result.total
    assert total["acked"] == 0 and total["unexpected_acks"] > 0
    assert total.ledger.in_flight == total["sent"] > 0 and total.unaccounted == 0
    assert result.exit_code() == EXIT_UNACCOUNTED


async def test_a_server_that_is_down_fails_only_a_strict_run() -> None:
    async with two_servers(refusing=True) as (g, j):
        config = FleetConfig(
            gt06=1, jt808=1, duration_s=0.3, **{**FAST, "drain_timeout_s": 0.2}, **ports(g, j)
        )
        result = await run_fleet(config)
    total = result.total
    assert total["sent"] == 0 and total["logins"] == 0 and total.ledger.buffered > 0
    assert result.exit_code() == EXIT_OK  # nothing sent, so nothing unaccounted
    assert result.exit_code(strict=True) == EXIT_INCOMPLETE


def summary(*, sent: int, acked: int, in_flight: int, **counters: Any) -> FleetResult:
    c = Counters(sent=sent, acked=acked, logins=1, **counters)
    total = Summary.of([(c, Ledger(in_flight=in_flight))], 1.0)
    return FleetResult(total, {"gt06": total}, [])


def test_exit_status_rules() -> None:
    assert summary(sent=10, acked=8, in_flight=2).exit_code() == EXIT_OK
    assert summary(sent=10, acked=8, in_flight=2).exit_code(strict=True) == EXIT_INCOMPLETE
    assert summary(sent=10, acked=10, in_flight=0).exit_code(strict=True) == EXIT_OK
    # acknowledged < sent - in flight: a message vanished from the books
    assert summary(sent=10, acked=7, in_flight=2).exit_code() == EXIT_UNACCOUNTED
    assert summary(sent=10, acked=10, in_flight=0, unexpected_acks=1).exit_code() == 1
    assert summary(sent=10, acked=9, in_flight=0, rejected=1).exit_code() == EXIT_OK
    assert summary(sent=10, acked=9, in_flight=0, rejected=1).exit_code(strict=True) == 3


# --- the command line -------------------------------------------------------------------------


async def test_the_command_line_runs_a_fleet_and_prints_a_json_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with two_servers() as (g, j):
        p = ports(g, j)
        argv = [
            "--gt06", "2", "--jt808", "2", "--host", "127.0.0.1",
            "--gt06-port", str(p["gt06_port"]), "--jt808-port", str(p["jt808_port"]),
            "--duration", "0.5", "--interval", "10", "--speedup", "100", "--seed", "3",
            "--offline-probability", "0.1", "--offline-positions", "2-3", "--json",
            "--progress", "0.2", "--strict",
        ]  # fmt: skip
        args, config = cli.parse_args(argv)
        assert (config.gt06, config.jt808, config.seed) == (2, 2, 3)
        assert config.offline_positions == (2, 3)
        code = await cli._main(args, config)
    out, err = capsys.readouterr()
    assert code == 0
    summary = json.loads(out)
    assert summary["total"]["devices"] == 4
    assert summary["total"]["sent"] == summary["total"]["acked"] > 0
    assert summary["total"]["unaccounted"] == 0
    assert set(summary["by_protocol"]) == {"gt06", "jt808"}
    assert "connected" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--gt06", "0", "--jt808", "0"],
        ["--offline-probability", "1.5"],
        ["--speedup", "0"],
        ["--centre", "41.0"],
        ["--offline-positions", "5-2"],
        ["--window", "0"],
    ],
)
def test_bad_arguments_exit_with_status_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(argv)
    assert exit_info.value.code == 2


def test_defaults() -> None:
    _, config = cli.parse_args([])
    assert (config.gt06_port, config.jt808_port, config.interval_s) == (5023, 5015, 10.0)
    assert config.centre == (41.01, 28.97)


def test_python_dash_m_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "trackstream_simulator", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert "--offline-probability" in done.stdout and "--register" in done.stdout


# --- registering the fleet --------------------------------------------------------------------


async def test_register_publishes_one_device_registered_per_device_keyed_by_device_id() -> None:
    key = b"unit-test-identifier-key-0123456789"
    identities = fleet_identities(FleetConfig(gt06=2, jt808=4, seed=9))
    publisher = FakePublisher(source="/simulator")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    count = await register_fleet(publisher, identities, key=key, seed=9, now=now)
    assert count == 6 == len(publisher.published)
    for identity, published in zip(identities, publisher.published, strict=True):
        assert published.topic == REGISTRY_TOPIC == "identity.device-registry.v1"
        assert published.key == identity.device_id
        event = published.message
        assert isinstance(event, DeviceRegistered)
        assert event.device_id == identity.device_id
        assert event.identifier_hmac == identifier_hmac(key, identity.identifier)
        assert event.registered_time.ToDatetime(tzinfo=UTC) == now
        assert event.device_timezone in ("Europe/Istanbul", "Asia/Shanghai")
        # the identifier itself is never published
        assert identity.identifier.encode() not in event.SerializeToString()
    # a 2019 terminal logs in with a 20-digit phone: ingest's HMAC of it is the same
    wide = next(i for i in identities if i.edition == "2019")
    assert identifier_hmac(key, wide.identifier.rjust(20, "0")) == identifier_hmac(
        key, wide.identifier
    )


def test_identifier_key_comes_from_the_flag_then_the_environment_then_the_dev_key() -> None:
    env = {"INGEST_IDENTIFIER_KEY": "from-the-environment-0123456789"}
    assert identifier_key("from-the-flag-0123456789", env) == b"from-the-flag-0123456789"
    assert identifier_key(None, env) == b"from-the-environment-0123456789"
    assert identifier_key(None, {}) == DEV_IDENTIFIER_KEY.encode()
    assert DEV_IDENTIFIER_KEY == "trackstream-local-identifier-key-not-for-production"
