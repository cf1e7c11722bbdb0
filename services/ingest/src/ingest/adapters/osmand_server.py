"""OsmAnd over HTTP (port 5055): phones running a Traccar-Client-compatible app as trackers.

Each request is one report. It is answered only after its events are durably in Kafka: 200 then;
404 for a device that is not registered; 400 (or the parser's status) for a bad request; 503
when Kafka did not acknowledge, so the phone keeps the location and sends it again.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus

from ingest.adapters.metrics import FRAMES
from ingest.adapters.tcp_server import (
    Activity,
    ConnectionRegistry,
    ConnectionServer,
    ServerOptions,
)
from ingest.domain.reports import Identify, Inbound, PositionReport, Report, StatusReport
from ingest.domain.session import DeviceRejected, DeviceSession, SessionState
from ingest.handlers import IngestHandler
from trackstream.tracking.v1 import fix_pb2
from trackstream_events.envelope import uuid7
from trackstream_kafka.publisher import PublishError
from trackstream_protocols import osmand
from trackstream_protocols.errors import ProtocolError

log = logging.getLogger(__name__)
NAME = "osmand"


def reports_of(report: osmand.OsmandReport) -> tuple[Report, ...]:
    found: list[Report] = [Identify(report.identifier, announce=False)]
    if report.fix is not None:
        found.append(PositionReport(report.fix, 0))
    elif report.attributes:
        found.append(StatusReport(report.time, 0, dict(report.attributes)))
    return tuple(found)


class OsmandServer(ConnectionServer):
    def __init__(
        self,
        *,
        handler: IngestHandler,
        connections: ConnectionRegistry,
        options: ServerOptions,
        speed_unit: osmand.SpeedUnit = "kn",
    ) -> None:
        super().__init__(name=NAME, connections=connections, options=options)
        self._handler = handler
        self._speed_unit = speed_unit

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, activity: Activity
    ) -> str:
        loop = asyncio.get_running_loop()
        parser = osmand.HttpRequestParser()
        #: one session per phone on this connection (normally just one)
        sessions: dict[str, DeviceSession] = {}
        while not parser.closed:
            data = await reader.read(self._options.read_chunk_size)
            activity.last = loop.time()
            if not data:
                return "closed_by_device"
            try:
                requests = parser.feed(data)
            except ProtocolError as err:
                writer.write(osmand.response_for(err).encode(keep_alive=False))
                await writer.drain()
                log.warning("closing connection: %s", err, extra={"protocol": NAME})
                return type(err).__name__
            if parser.take_continue():
                writer.write(osmand.CONTINUE_RESPONSE)
            for request in requests:
                writer.write(await self._answer(request, sessions))
            await writer.drain()
        return "closed_by_device"

    async def _answer(
        self, request: osmand.HttpRequest, sessions: dict[str, DeviceSession]
    ) -> bytes:
        keep_alive = request.keep_alive
        try:
            report = osmand.parse_request(
                request.method,
                request.target,
                request.headers,
                request.body,
                speed_unit=self._speed_unit,
            )
        except ProtocolError as err:
            return osmand.response_for(err).encode(keep_alive=keep_alive)
        FRAMES.labels(NAME).inc()
        session = sessions.get(report.identifier)
        if session is None:
            if len(sessions) >= 8:
                sessions.clear()
            session = sessions[report.identifier] = DeviceSession(
                session_id=uuid7(), protocol=fix_pb2.PROTOCOL_OSMAND
            )
        try:
            await self._handler.handle(session, [Inbound(reports_of(report), None)])
        except DeviceRejected:
            return osmand.response_for(report, known_device=False).encode(keep_alive=keep_alive)
        except PublishError as err:
            log.error("not acknowledged, the phone will resend: %s", err, extra={"protocol": NAME})
            return osmand.encode_response(HTTPStatus.SERVICE_UNAVAILABLE, keep_alive=False)
        known = session.state is SessionState.ACTIVE
        return osmand.response_for(report, known_device=known).encode(keep_alive=keep_alive)
