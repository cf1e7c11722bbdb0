from __future__ import annotations

import asyncio
import subprocess
import sys

from trackstream_servicekit import ServiceRunner, ServiceSettings


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_ready_only_after_start_and_until_shutdown_and_drains_in_flight_work() -> None:
    runner = ServiceRunner("tests", ServiceSettings(shutdown_grace_s=5))
    healthy = {"db": True}

    async def db_ok() -> bool:
        return healthy["db"]

    runner.add_readiness_check("db", db_ok)
    drained = asyncio.Event()

    async def body(stopping: asyncio.Event) -> None:
        await stopping.wait()
        await asyncio.sleep(0.2)  # finishing in-flight work
        drained.set()

    await runner.start_ops_server()
    port = runner.ops_port
    assert (await _get(port, "/readyz"))[0] == 503  # not started yet
    assert runner._server is not None
    runner._server.close()  # run() opens its own
    task = asyncio.create_task(runner.run(body))
    for _ in range(50):
        await asyncio.sleep(0.02)
        if runner.started:
            break
    port = runner.ops_port
    assert await _get(port, "/healthz") == (200, b"ok\n")
    assert (await _get(port, "/readyz"))[0] == 200
    healthy["db"] = False
    assert (await _get(port, "/readyz"))[0] == 503
    status, metrics = await _get(port, "/metrics")
    assert status == 200 and b"# TYPE" in metrics
    assert (await _get(port, "/nope"))[0] == 404
    runner.stopping.set()  # what SIGTERM does
    await asyncio.wait_for(task, 5)
    assert drained.is_set()


def test_a_service_process_runs_on_uvloop_and_ends_when_its_body_does() -> None:
    """``run_process`` is what every service's ``__main__`` calls: the loop is uvloop's."""
    script = (
        "import asyncio\n"
        "from trackstream_servicekit import ServiceRunner, ServiceSettings\n"
        "seen = []\n"
        "async def body(stopping):\n"
        "    seen.append(type(asyncio.get_running_loop()).__module__)\n"
        "runner = ServiceRunner('tests', ServiceSettings(ops_port=0))\n"
        "runner.run_process(body)\n"
        "print(seen[0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().startswith("uvloop"), done.stdout + done.stderr
