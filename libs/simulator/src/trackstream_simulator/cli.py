"""``trackstream-simulate``: run a fleet of virtual trackers against ingest.

Example (the local demo fleet, ten times faster than real time)::

    trackstream-simulate --gt06 5 --jt808 5 --duration 60 --interval 10 --speedup 10 --register

Progress goes to stderr every few seconds; the final summary to stdout (``--json`` for
benchmarks). Exit status: 0 when the books balance; 1 when they do not (a data message sent is
neither acknowledged nor still in flight, or an acknowledgement matched nothing sent); 3 with
``--strict`` when anything was still unacknowledged after the drain; 4 when ``--register``
could not publish to Kafka; 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from trackstream_kafka import EventPublisher, KafkaSettings
from trackstream_simulator.fleet import FleetConfig, fleet_identities, run_fleet
from trackstream_simulator.registry import identifier_key, register_fleet
from trackstream_simulator.route import DEFAULT_CENTRE
from trackstream_simulator.stats import summary_text

__all__ = ["EXIT_REGISTRATION_FAILED", "main", "parse_args"]

EXIT_REGISTRATION_FAILED = 4
log = logging.getLogger("trackstream_simulator")


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability (0..1)")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text} is not a device count (0..1000000)")
    return value


def _centre(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LAT,LON") from None
    if not (-85 <= lat <= 85 and -180 <= lon <= 180):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return lat, lon


def _range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not MIN-MAX") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"{text!r} needs 1 <= MIN <= MAX")
    return low, high


def build_parser() -> argparse.ArgumentParser:
    d = FleetConfig()
    p = argparse.ArgumentParser(
        prog="trackstream-simulate",
        description="Virtual GT06 and JT/T 808 trackers driving routes against ingest over TCP.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    fleet = p.add_argument_group("fleet")
    fleet.add_argument("--gt06", type=_count, default=d.gt06, help="GT06 devices")
    fleet.add_argument("--jt808", type=_count, default=d.jt808, help="JT/T 808 devices")
    fleet.add_argument(
        "--seed", type=int, default=d.seed, help="routes, IMEIs, phones and device ids follow it"
    )
    fleet.add_argument(
        "--jt808-2019-fraction",
        type=_probability,
        default=d.jt808_2019_fraction,
        help="share of JT/T 808 devices using the 2019 header",
    )
    server = p.add_argument_group("server")
    server.add_argument("--host", default=d.host, help="ingest host")
    server.add_argument("--gt06-port", type=int, default=d.gt06_port)
    server.add_argument("--jt808-port", type=int, default=d.jt808_port)
    time = p.add_argument_group("time")
    time.add_argument(
        "--duration",
        type=float,
        default=d.duration_s,
        help="real seconds to run; 0 runs until interrupted",
    )
    time.add_argument(
        "--interval", type=_positive, default=d.interval_s, help="simulated seconds per position"
    )
    time.add_argument(
        "--speedup",
        type=_positive,
        default=d.speedup,
        help="simulated seconds per real second (10: a position every second at --interval 10)",
    )
    behaviour = p.add_argument_group("behaviour")
    behaviour.add_argument(
        "--offline-probability",
        type=_probability,
        default=d.offline_probability,
        help="chance per position that a coverage gap starts",
    )
    behaviour.add_argument(
        "--offline-positions",
        type=_range,
        default=d.offline_positions,
        metavar="MIN-MAX",
        help="positions a coverage gap lasts",
    )
    behaviour.add_argument(
        "--alarm-probability",
        type=_probability,
        default=d.alarm_probability,
        help="chance per position of an SOS or power-cut alarm (overspeed comes from speed)",
    )
    behaviour.add_argument(
        "--heartbeat", type=_positive, default=d.heartbeat_s, help="simulated heartbeat interval"
    )
    behaviour.add_argument(
        "--centre",
        type=_centre,
        default=DEFAULT_CENTRE,
        metavar="LAT,LON",
        help="routes go around it",
    )
    behaviour.add_argument(
        "--radius", type=_positive, default=d.radius_m, help="route radius in metres"
    )
    behaviour.add_argument(
        "--ack-timeout",
        type=_positive,
        default=d.ack_timeout_s,
        help="real seconds to wait for an ACK before reconnecting",
    )
    behaviour.add_argument(
        "--window",
        type=int,
        default=d.window,
        help="messages awaiting an ACK at once per device",
    )
    behaviour.add_argument(
        "--drain-timeout",
        type=float,
        default=d.drain_timeout_s,
        help="real seconds at the end to deliver what is still unacknowledged",
    )
    registry = p.add_argument_group("registry")
    registry.add_argument(
        "--register",
        action="store_true",
        help="publish a DeviceRegistered per device to Kafka before connecting",
    )
    registry.add_argument(
        "--register-wait",
        type=float,
        default=2.0,
        help="seconds to give ingest to read the registrations before devices connect "
        "(a device ingest does not know yet is quarantined, not acknowledged, and retries)",
    )
    registry.add_argument(
        "--identifier-key",
        default=None,
        help="HMAC key for identifiers (default: $INGEST_IDENTIFIER_KEY, else the local dev key)",
    )
    registry.add_argument(
        "--kafka",
        default=None,
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    output = p.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the final summary as JSON")
    output.add_argument(
        "--progress",
        type=float,
        default=d.progress_s,
        help="seconds between progress lines; 0: none",
    )
    output.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 if anything is still unacknowledged, rejected or dropped at the end",
    )
    output.add_argument("-v", "--verbose", action="count", default=0)
    return p


def parse_args(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, FleetConfig]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.window < 1:
        parser.error("--window must be at least 1")
    if args.gt06 + args.jt808 == 0:
        parser.error("nothing to simulate: give --gt06 and/or --jt808 a count")
    config = FleetConfig(
        gt06=args.gt06,
        jt808=args.jt808,
        host=args.host,
        gt06_port=args.gt06_port,
        jt808_port=args.jt808_port,
        duration_s=max(args.duration, 0.0),
        interval_s=args.interval,
        speedup=args.speedup,
        seed=args.seed,
        offline_probability=args.offline_probability,
        offline_positions=args.offline_positions,
        alarm_probability=args.alarm_probability,
        heartbeat_s=args.heartbeat,
        jt808_2019_fraction=args.jt808_2019_fraction,
        centre=args.centre,
        radius_m=args.radius,
        ack_timeout_s=args.ack_timeout,
        window=args.window,
        drain_timeout_s=max(args.drain_timeout, 0.0),
        progress_s=max(args.progress, 0.0),
    )
    return args, config


async def _register(args: argparse.Namespace, config: FleetConfig) -> int:
    settings = KafkaSettings(bootstrap_servers=args.kafka) if args.kafka else KafkaSettings()
    publisher = EventPublisher.create(settings, source="/simulator")
    try:
        await publisher.start()
        return await register_fleet(
            publisher,
            fleet_identities(config),
            key=identifier_key(args.identifier_key),
            seed=config.seed,
            now=datetime.now(UTC),
        )
    finally:
        await publisher.stop()


async def _main(args: argparse.Namespace, config: FleetConfig) -> int:
    if args.register:
        try:
            count = await _register(args, config)
        except Exception as exc:  # aiokafka raises a variety; all mean "not registered"
            print(f"trackstream-simulate: registration failed: {exc!r}", file=sys.stderr)
            return EXIT_REGISTRATION_FAILED
        print(f"registered {count} devices", file=sys.stderr)
        await asyncio.sleep(max(args.register_wait, 0.0))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    result = await run_fleet(
        config, stop=stop, progress=lambda line: print(line, file=sys.stderr, flush=True)
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(summary_text(result.total, result.by_protocol))
    code = result.exit_code(strict=args.strict)
    if code:
        t = result.total
        print(
            f"trackstream-simulate: exit {code}: unaccounted {t.unaccounted}, unexpected acks "
            f"{t['unexpected_acks']}, in flight {t.ledger.in_flight}, queued "
            f"{t.ledger.queued}, buffered {t.ledger.buffered}, rejected {t['rejected']}",
            file=sys.stderr,
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args, config = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(_main(args, config))
