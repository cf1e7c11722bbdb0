"""The service runner: ops endpoints, readiness, and SIGTERM that drains before exiting.

    runner = ServiceRunner("history", settings)
    runner.add_readiness_check("cassandra", cassandra_ok)
    await runner.run(main_task_factory)   # returns after SIGTERM/SIGINT and a graceful drain

``/healthz`` answers 200 while the process runs; ``/readyz`` 200 only after start-up finished,
every readiness check passes and shutdown has not begun; ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import uvloop
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from trackstream_obs.logging import configure_logging
from trackstream_obs.tracing import configure_tracing
from trackstream_servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
#: the service body: runs until ``stopping`` is set, then drains its in-flight work and returns
ServiceMain = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class ServiceRunner:
    def __init__(self, name: str, settings: ServiceSettings) -> None:
        self.name = name
        self.settings = settings
        self.stopping = asyncio.Event()
        self.started = False
        self._checks: dict[str, ReadinessCheck] = {}
        self._server: asyncio.Server | None = None

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    @property
    def ops_port(self) -> int:
        if self._server is None:
            raise RuntimeError("ops server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def ready(self) -> bool:
        if not self.started or self.stopping.is_set():
            return False
        for name, check in self._checks.items():
            try:
                if not await check():
                    return False
            except Exception:
                log.warning("readiness check failed", extra={"check": name}, exc_info=True)
                return False
        return True

    async def start_ops_server(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_http, self.settings.ops_host, self.settings.ops_port
        )

    def run_process(self, main: ServiceMain) -> None:
        """Run the service as this process's whole life, on uvloop: libuv's event loop costs
        less per socket read and write than the default one (media's uploads, ingest's device
        connections), and every library here (aiokafka, grpc.aio, uvicorn, the Cassandra
        driver's callbacks) runs on any asyncio loop."""
        uvloop.run(self.run(main))

    async def run(self, main: ServiceMain) -> None:
        configure_logging(self.name, self.settings.log_level)
        configure_tracing(self.name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.start_ops_server()
        log.info("service starting", extra={"ops_port": self.ops_port})
        body = asyncio.create_task(main(self.stopping))
        self.started = True
        stop_wait = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait({body, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if body.done():
                body.result()  # a body that ended on its own: surface its error, if any
                return
            log.info("shutting down: draining in-flight work")
            try:
                await asyncio.wait_for(asyncio.shield(body), self.settings.shutdown_grace_s)
            except TimeoutError:
                log.error("drain exceeded the grace period; cancelling")
                body.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await body
        finally:
            stop_wait.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            log.info("service stopped")

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            if path == "/healthz":
                status, body, ctype = 200, b"ok\n", "text/plain"
            elif path == "/readyz":
                ok = await self.ready()
                status, ctype = (200 if ok else 503), "text/plain"
                body = b"ready\n" if ok else b"not ready\n"
            elif path == "/metrics":
                status, body, ctype = 200, generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, ctype = 404, b"not found\n", "text/plain"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
