"""End to end over the real stack: an account and a device created through REST, a simulated
GT06 device on a real ingest, its track through REST and its live position on the WebSocket
within 2 s. Every log line written meanwhile is captured and scanned for secrets and personal
data (passwords, tokens, API keys, e-mails, phone numbers, IMEIs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
import websockets

from ingest.bootstrap import bootstrap as bootstrap_ingest
from ingest.config import IngestSettings
from services.gateway.tests.integration.conftest import (
    IDENTIFIER_KEY,
    PASSWORD,
    Stack,
    bearer,
    eventually,
    login,
    unique_email,
    unique_imei,
)
from trackstream.identity.v1 import accounts_pb2 as apb
from trackstream_events.pseudonyms import identifier_hmac
from trackstream_obs.logging import JsonFormatter
from trackstream_protocols import gt06
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.model import Fix

pytestmark = pytest.mark.asyncio(loop_scope="session")
POINTS = 5
#: the test's own HTTP and WebSocket clients log request URLs; they are not the services' logs
TEST_CLIENT_LOGGERS = ("httpx", "httpcore", "websockets.client")


class CapturedLines(logging.Handler):
    """Every log record of the process, formatted as the services write them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter("captured"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(TEST_CLIENT_LOGGERS):
            self.lines.append(self.format(record))


@dataclass
class Scenario:
    device_id: str = ""
    latencies_s: list[float] = field(default_factory=list)
    track: list[dict[str, object]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    command_frame: bytes = b""
    command_status: str = ""
    #: the device as the gateway shows it after its location consent was withdrawn
    withdrawn: dict[str, object] = field(default_factory=dict)
    #: the point stored after the withdrawal
    coarse_point: dict[str, object] = field(default_factory=dict)


async def gt06_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frame: bytes
) -> None:
    writer.write(frame)
    splitter = gt06.Gt06FrameSplitter()
    async with asyncio.timeout(20):
        acks: list[gt06.Gt06Frame] = []
        while not acks:
            data = await reader.read(1024)
            assert data, "ingest closed the connection"
            acks = splitter.feed(data)


async def next_position(socket: websockets.ClientConnection, device_id: str) -> dict[str, object]:
    while True:
        message = json.loads(await socket.recv())
        if message.get("type") == "position" and message.get("device_id") == device_id:
            return dict(message)


async def next_command_frame(reader: asyncio.StreamReader) -> bytes:
    """The content of the first server command (GT06 0x80) the device receives."""
    splitter = gt06.Gt06FrameSplitter()
    async with asyncio.timeout(10):
        while True:
            data = await reader.read(1024)
            assert data, "ingest closed the connection"
            for frame in splitter.feed(data):
                if frame.protocol == 0x80:
                    return frame.content


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scenario(stack: Stack) -> AsyncIterator[Scenario]:
    captured = CapturedLines()
    root = logging.getLogger()
    root.addHandler(captured)
    previous_level = root.level
    root.setLevel(logging.INFO)
    result = Scenario()
    try:
        await run_scenario(stack, result)
    finally:
        root.removeHandler(captured)
        root.setLevel(previous_level)
    result.lines = captured.lines
    yield result


async def run_scenario(stack: Stack, out: Scenario) -> None:
    distributor_id, distributor_email = await stack.create_account(
        stack.platform_id, apb.ACCOUNT_KIND_DISTRIBUTOR, label="e2e-distributor"
    )
    email = unique_email("e2e-fleet")
    phone = "+4917" + str(uuid.uuid4().int)[:9]
    imei = unique_imei()
    out.secrets.update(
        {
            "password": PASSWORD,
            "email": email,
            "phone": phone,
            "imei": imei,
            "email2": distributor_email,
        }
    )

    async def known() -> bool:
        return distributor_id in stack.gateway.context.directory.accounts

    await eventually(known)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        distributor = await login(client, distributor_email)
        wrong = await client.post(
            "/v1/auth/token", json={"email": distributor_email, "password": "wrong " + PASSWORD}
        )
        assert wrong.status_code == 401
        invalid = await client.post(
            "/v1/accounts",
            headers=bearer(distributor),
            json={"kind": "enterprise", "email": email, "password": "short", "phone": phone},
        )
        assert invalid.status_code == 422
        # an account through REST, then a device of it
        created = await client.post(
            "/v1/accounts",
            headers=bearer(distributor),
            json={
                "kind": "enterprise",
                "email": email,
                "phone": phone,
                "display_name": "Fleet",
                "password": PASSWORD,
            },
        )
        assert created.status_code == 201, created.text
        tokens = (
            await client.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
        ).json()
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert refreshed.status_code == 200, refreshed.text
        access = refreshed.json()["access_token"]
        out.secrets |= {
            "access": tokens["access_token"],
            "refresh": refresh,
            "access2": access,
            "refresh2": refreshed.json()["refresh_token"],
            "distributor_access": distributor,
        }
        device = await client.post(
            "/v1/devices",
            headers=bearer(access),
            json={"identifier": imei, "protocol": "gt06", "name": "Van 1"},
        )
        assert device.status_code == 201, device.text
        out.device_id = device_id = device.json()["device_id"]
        key = await client.post("/v1/api-keys", headers=bearer(access), json={"name": "erp"})
        assert key.status_code == 201
        out.secrets["api_key"] = key.json()["secret"]
        listed = await client.get(
            "/v1/devices",
            headers={"X-API-Key": out.secrets["api_key"], "X-Request-Id": "e2e-listing-1"},
        )
        assert [d["device_id"] for d in listed.json()["devices"]] == [device_id]
        link = await client.post(
            f"/v1/devices/{device_id}/share-links",
            headers=bearer(access),
            json={"expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        )
        out.secrets["share_token"] = link.json()["token"]

        ingest = bootstrap_ingest(
            IngestSettings(
                gt06_port=0,
                jt808_port=0,
                osmand_port=0,
                ops_port=0,
                identifier_key=IDENTIFIER_KEY,  # type: ignore[arg-type]
            )
        )
        stopping = asyncio.Event()
        ingest_task = asyncio.create_task(ingest.run(stopping))
        try:
            await asyncio.wait_for(ingest.ready.wait(), 60)
            socket = await websockets.connect(f"{stack.ws_url}/v1/live?access_token={access}")
            assert json.loads(await socket.recv()) == {"type": "subscribed"}
            reader, writer = await asyncio.open_connection("127.0.0.1", ingest.ports["gt06"])
            await gt06_exchange(reader, writer, gt06_device.encode_login(imei, serial=1))
            start = datetime.now(UTC).replace(microsecond=0)
            for i in range(POINTS):
                fix = Fix(
                    fix_time=start + timedelta(seconds=i),
                    latitude=52.52 + i / 1000,
                    longitude=13.40 + i / 1000,
                    speed_kmh=40.0,
                    course_deg=90.0,
                    valid=True,
                    satellites=8,
                )
                sent = time.perf_counter()
                writer.write(gt06_device.encode_location(fix, serial=i + 2))
                message = await asyncio.wait_for(next_position(socket, device_id), 10)
                out.latencies_s.append(time.perf_counter() - sent)
                assert message["latitude"] == pytest.approx(fix.latitude, abs=1e-5)
            await socket.close()

            # a command through REST reaches the connected device, and its status comes back
            sent_command = await client.post(
                f"/v1/devices/{device_id}/commands",
                headers=bearer(access),
                json={"kind": "custom_text", "text": "WHERE#"},
            )
            assert sent_command.status_code == 202, sent_command.text
            out.command_frame = await next_command_frame(reader)
            command_url = f"/v1/commands/{sent_command.json()['command_id']}"

            async def delivered() -> bool:
                response = await client.get(command_url, headers=bearer(access))
                assert response.status_code == 200, response.text
                out.command_status = response.json()["status"]
                return out.command_status == "delivered"

            await eventually(delivered)

            # consent to precise location withdrawn: the next fix is stored coarsened
            withdrawn = await client.patch(
                f"/v1/devices/{device_id}",
                headers=bearer(access),
                json={"location_consent": "withdrawn"},
            )
            assert withdrawn.status_code == 200, withdrawn.text
            out.withdrawn = withdrawn.json()
            identifier = identifier_hmac(IDENTIFIER_KEY.encode(), imei)

            async def ingest_knows() -> bool:
                registration = ingest.directory.lookup(identifier)
                return registration is not None and registration.location_consent == 2

            await eventually(ingest_knows)
            writer.write(
                gt06_device.encode_location(
                    Fix(
                        fix_time=start + timedelta(seconds=POINTS),
                        latitude=52.5321,
                        longitude=13.4111,
                        speed_kmh=40.0,
                        course_deg=90.0,
                        valid=True,
                        satellites=8,
                    ),
                    serial=POINTS + 2,
                )
            )
            await writer.drain()
            writer.close()

            async def stored() -> bool:
                response = await client.get(
                    f"/v1/devices/{device_id}/track",
                    headers=bearer(access),
                    params={
                        "start": (start - timedelta(minutes=1)).isoformat(),
                        "end": (start + timedelta(minutes=1)).isoformat(),
                    },
                )
                assert response.status_code == 200, response.text
                points = response.json()["points"]
                out.track, out.coarse_point = points[:POINTS], (points[POINTS:] or [{}])[0]
                return len(points) > POINTS

            await eventually(stored, within=30)
            last = await client.get(f"/v1/shared/{out.secrets['share_token']}/position", headers={})
            assert last.status_code == 200, last.text
        finally:
            stopping.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ingest_task, 30)


async def test_live_position_arrives_within_two_seconds(scenario: Scenario) -> None:
    assert len(scenario.latencies_s) == POINTS
    print(f"device -> WebSocket latencies (s): {[round(x, 3) for x in scenario.latencies_s]}")
    assert max(scenario.latencies_s) < 2.0


async def test_track_is_readable_through_rest(scenario: Scenario) -> None:
    assert len(scenario.track) == POINTS
    assert [p["latitude"] for p in scenario.track] == pytest.approx(
        [52.52 + i / 1000 for i in range(POINTS)], abs=1e-5
    )


async def test_logs_carry_no_secret_or_personal_data(scenario: Scenario) -> None:
    assert len(scenario.lines) > 20, "the scenario should have logged (access log at least)"
    assert any('"route": "/v1/devices/{device_id}/track"' in line for line in scenario.lines)
    access_lines = [line for line in scenario.lines if '"logger": "gateway.access"' in line]
    assert access_lines and all('"request_id": ' in line for line in access_lines)
    assert any('"request_id": "e2e-listing-1"' in line for line in access_lines)
    leaks = {
        name: [line for line in scenario.lines if value in line]
        for name, value in scenario.secrets.items()
    }
    assert {name: found for name, found in leaks.items() if found} == {}
    # the secrets' distinctive parts too (a token cut by a formatter would still leak)
    for name in ("access", "refresh", "api_key", "share_token"):
        tail = scenario.secrets[name][-24:]
        assert not [line for line in scenario.lines if tail in line], name


async def test_a_withdrawn_location_consent_coarsens_the_next_fix(scenario: Scenario) -> None:
    assert scenario.withdrawn["location_consent"] == "withdrawn"
    assert (scenario.coarse_point["latitude"], scenario.coarse_point["longitude"]) == (
        pytest.approx(52.525),
        pytest.approx(13.425),
    )
    assert all(p["latitude"] != scenario.coarse_point["latitude"] for p in scenario.track)


async def test_a_command_reaches_the_device_and_reports_delivered(scenario: Scenario) -> None:
    assert b"WHERE#" in scenario.command_frame
    assert scenario.command_status == "delivered"
