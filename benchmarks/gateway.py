"""Authenticated requests through the gateway vs the same query straight to history (gRPC).

Three processes: history's gRPC API over Cassandra (rows written first, as history stores
them), the gateway (its read model seeded with one account and 100 devices; its signing keys
from a stand-in identity that serves only GetJwks), and this one, the client. Two queries:

* last positions of 100 devices: ``GET /v1/positions/last?device_id=..`` (100 ids) vs
  ``GetLastPositions`` with the same 100 ids;
* a one-day track (8,640 points, a fix every 10 s): ``GET /v1/devices/{id}/track`` following
  every page of 500 vs ``GetTrack`` following pages of 500.

Each is run by ``CONCURRENCY`` concurrent callers for ``ROUND_S`` seconds, gateway and direct
alternating, best of ``ROUNDS``; requests/s and p99 latency are reported, and the ratio
gateway/direct of the requests/s.

Run: ``.venv/bin/python -m benchmarks.gateway`` (Kafka is not needed; Cassandra is).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import httpx

from benchmarks.common import Result
from trackstream.history.v1 import history_service_pb2 as hpb
from trackstream.history.v1 import history_service_pb2_grpc as hpb_grpc
from trackstream_events.timestamps import to_timestamp

DEVICES = 100
DAY_POINTS = 8640
PAGE = 500
CONCURRENCY = 8
ROUND_S = 4.0
ROUNDS = 3
TARGET = 0.25


# ---------------------------------------------------------------------- the servers


async def serve_history(run_id: str, ready_file: Path) -> None:
    """Write the rows, then serve history's gRPC API until killed."""
    from history.adapters.grpc_api import serve_grpc
    from history.adapters.store import PositionStore
    from history.handlers import PositionWriter, StoreHealth
    from trackstream.tracking.v1.fix_pb2 import Fix, Origin
    from trackstream.tracking.v1.position_pb2 import PositionReported
    from trackstream_cassandra import CassandraSettings, CassandraStore, connect
    from trackstream_events.envelope import Envelope
    from trackstream_kafka import ConsumedEvent

    settings = CassandraSettings()
    cassandra = CassandraStore(connect(settings, keyspace=settings.keyspace))
    store = PositionStore(cassandra, concurrency=128)
    writer = PositionWriter(store, StoreHealth())
    day0 = (datetime.now(UTC) - timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )

    def event(device_id: str, when: datetime, i: int) -> ConsumedEvent:
        message = PositionReported(
            device_id=device_id,
            fix=Fix(
                fix_time=to_timestamp(when),
                latitude=52.0 + (i % 1000) / 10_000,
                longitude=13.0 + (i % 1000) / 10_000,
                speed_kmh=float(i % 80),
                valid=True,
            ),
            received_time=to_timestamp(when),
            origin=Origin(message_serial=i % 65536),
        )
        envelope = Envelope(
            type="trackstream.tracking.v1.PositionReported", source="/bench", subject=device_id
        )
        return ConsumedEvent(envelope, message, device_id, "tracking.positions.v1", 0, i)

    track = [
        event(f"bench-gw-{run_id}-track", day0 + timedelta(seconds=10 * i), i)
        for i in range(DAY_POINTS)
    ]
    for i in range(0, len(track), 2000):
        await writer.handle(track[i : i + 2000])
    await writer.handle(
        [event(f"bench-gw-{run_id}-{d}", day0 + timedelta(hours=12), d) for d in range(DEVICES)]
    )
    server, port = await serve_grpc(store, "127.0.0.1", 0)
    ready_file.write_text(json.dumps({"port": port, "day0": day0.isoformat()}))
    await asyncio.Event().wait()
    await server.stop(1)


async def serve_gateway(run_id: str, history_port: int, ready_file: Path) -> None:
    """A gateway whose read model holds one enterprise and its 100 devices."""
    from gateway.bootstrap import bootstrap
    from gateway.config import GatewaySettings
    from gateway.domain.model import AccountNode, DeviceEntry, Kind, Role
    from trackstream.identity.v1 import identity_service_pb2 as ipb
    from trackstream.identity.v1 import identity_service_pb2_grpc as ipb_grpc
    from trackstream_auth import SigningKey, TokenSigner, jwks_json
    from trackstream_testing import FakePublisher

    key = SigningKey.generate()

    class JwksOnly(ipb_grpc.IdentityServiceServicer):
        async def GetJwks(self, request: object, context: object) -> ipb.GetJwksResponse:
            return ipb.GetJwksResponse(jwks_json=jwks_json([key]))

    identity = grpc.aio.server()
    ipb_grpc.add_IdentityServiceServicer_to_server(JwksOnly(), identity)  # type: ignore[abstract]
    identity_port = identity.add_insecure_port("127.0.0.1:0")
    await identity.start()
    gateway = bootstrap(
        GatewaySettings(
            http_port=0,
            identity_address=f"127.0.0.1:{identity_port}",
            history_address=f"127.0.0.1:{history_port}",
            rate_per_s=1_000_000,
            rate_burst=1_000_000,
        ),
        publisher=FakePublisher(),
        kafka=False,
    )
    account = f"bench-account-{run_id}"
    directory = gateway.context.directory
    directory.put_account(AccountNode(account, "", (), Kind.ENTERPRISE, Role.ADMIN, False))
    for d in [*range(DEVICES), "track"]:
        directory.put_device(DeviceEntry(f"bench-gw-{run_id}-{d}", account))
    token, _ = TokenSigner(key).access_token(
        account, "bench-session", now=datetime.now(UTC), lifetime=timedelta(hours=2)
    )
    stopping = asyncio.Event()
    running = asyncio.create_task(gateway.run(stopping))
    await asyncio.wait_for(gateway.ready.wait(), 30)
    ready_file.write_text(json.dumps({"port": gateway.http_port, "token": token}))
    await running


# ---------------------------------------------------------------------- the client


async def load(call: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(requests/s, p99 ms) of ``CONCURRENCY`` callers repeating ``call`` for ``ROUND_S``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + ROUND_S

    async def caller() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p99


def wait_for(path: Path, process: subprocess.Popen[bytes], what: str, timeout_s: float) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready in {timeout_s} s")
        time.sleep(0.1)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


async def measure(
    history_port: int, day0: datetime, gateway_port: int, token: str, run_id: str
) -> dict[str, float]:
    ids = [f"bench-gw-{run_id}-{d}" for d in range(DEVICES)]
    track_device = f"bench-gw-{run_id}-track"
    start, end = day0, day0 + timedelta(days=1)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with (
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway_port}", headers=headers, limits=limits, timeout=60
        ) as client,
        grpc.aio.insecure_channel(f"127.0.0.1:{history_port}") as channel,
    ):
        stub = hpb_grpc.HistoryServiceStub(channel)

        async def last_gateway() -> None:
            response = await client.get(
                "/v1/positions/last", params=[("device_id", i) for i in ids]
            )
            assert response.status_code == 200 and len(response.json()["positions"]) == DEVICES

        async def last_direct() -> None:
            response = await stub.GetLastPositions(hpb.GetLastPositionsRequest(device_ids=ids))
            assert len(response.positions) == DEVICES

        async def track_gateway() -> None:
            points, token_ = 0, ""
            while True:
                params: dict[str, str | int] = {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "page_size": PAGE,
                }
                if token_:
                    params["page_token"] = token_
                response = await client.get(f"/v1/devices/{track_device}/track", params=params)
                body = response.json()
                points += len(body["points"])
                token_ = body["next_page_token"]
                if not token_:
                    break
            assert points == DAY_POINTS, points

        async def track_direct() -> None:
            points, token_ = 0, ""
            while True:
                response = await stub.GetTrack(
                    hpb.GetTrackRequest(
                        device_id=track_device,
                        start_time=to_timestamp(start),
                        end_time=to_timestamp(end),
                        page_size=PAGE,
                        page_token=token_,
                    )
                )
                points += len(response.points)
                token_ = response.next_page_token
                if not token_:
                    break
            assert points == DAY_POINTS, points

        best: dict[str, tuple[float, float]] = {}
        for _ in range(ROUNDS):
            for name, call in (
                ("last_gateway", last_gateway),
                ("last_direct", last_direct),
                ("track_gateway", track_gateway),
                ("track_direct", track_direct),
            ):
                rate, p99 = await load(call)
                if name not in best or rate > best[name][0]:
                    best[name] = (rate, p99)
    out: dict[str, float] = {}
    for name, (rate, p99) in best.items():
        out[f"{name}_per_s"] = rate
        out[f"{name}_p99_ms"] = p99
    return out


def run() -> Result:
    run_id = uuid.uuid4().hex[:8]
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gateway-{run_id}"
    folder.mkdir(parents=True)
    me = [sys.executable, "-m", "benchmarks.gateway"]
    history = subprocess.Popen([*me, "serve-history", run_id, str(folder / "history")])
    gateway: subprocess.Popen[bytes] | None = None
    try:
        h = wait_for(folder / "history", history, "history", 300)
        gateway = subprocess.Popen(
            [*me, "serve-gateway", run_id, str(h["port"]), str(folder / "gateway")],
            env={**os.environ, "LOG_LEVEL": "WARNING"},
        )
        g = wait_for(folder / "gateway", gateway, "gateway", 60)
        m = asyncio.run(
            measure(h["port"], datetime.fromisoformat(h["day0"]), g["port"], g["token"], run_id)
        )
    finally:
        for process in (gateway, history):
            if process is not None:
                process.terminate()
                process.wait(10)
    last_ratio = m["last_gateway_per_s"] / m["last_direct_per_s"]
    track_ratio = m["track_gateway_per_s"] / m["track_direct_per_s"]
    return Result(
        name="gateway last positions (100)",
        value=m["last_gateway_per_s"],
        baseline=m["last_direct_per_s"],
        unit="req/s",
        ratio=last_ratio,
        target=TARGET,
        details={**{k: round(v, 1) for k, v in m.items()}, "track_ratio": round(track_ratio, 2)},
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve-history":
        asyncio.run(serve_history(sys.argv[2], Path(sys.argv[3])))
    elif len(sys.argv) > 1 and sys.argv[1] == "serve-gateway":
        asyncio.run(serve_gateway(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))
    else:
        result = run()
        print(result.line())
        print("  details:", result.details)
