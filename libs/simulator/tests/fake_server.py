"""A tiny ingest stand-in for the simulator's tests, on 127.0.0.1 and an ephemeral port.

It uses the real server-side codec: the splitters and decoders (CRC and check byte required),
GT06 ``encode_ack`` and JT/T 808 ``required_response`` + ``encode_response``. Tests can withhold
acknowledgements, echo wrong serials, change the JT/T 808 auth code, send commands, and wait
for what arrived.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Literal

from trackstream_protocols import gt06, jt808

Protocol = Literal["gt06", "jt808"]


@dataclass(frozen=True)
class Received:
    """One frame the server decoded: on which connection (1-based), what, and its bytes."""

    connection: int
    message: object
    raw: bytes

    @property
    def gt06(self) -> gt06.Gt06Message:
        assert isinstance(self.message, gt06.Gt06Message)
        return self.message

    @property
    def jt808(self) -> jt808.Jt808Packet:
        assert isinstance(self.message, jt808.Jt808Packet)
        return self.message


@dataclass
class FakeServer:
    protocol: Protocol
    #: the JT/T 808 auth code 0x8100 hands out, and the only one 0x0102 accepts
    auth_code: str = "AUTH-0001"
    #: return True to not acknowledge a frame
    withhold: Callable[[Received], bool] = lambda _: False
    #: added to the serial a data acknowledgement echoes (a broken server; logins are answered
    #: correctly)
    ack_serial_offset: int = 0
    #: while set, connections are closed as soon as they are accepted (a server that is down)
    refusing: bool = False
    refused: int = 0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _writers: dict[int, asyncio.StreamWriter] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _serials: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        for writer in self._writers.values():
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop(self, connection: int | None = None) -> None:
        """Close a connection (default: the newest) as a crashing server would."""
        self._writers[connection or self.connections].close()

    def send(self, data: bytes, connection: int | None = None) -> None:
        """Write ``data`` to a connection (default: the newest)."""
        self._writers[connection or self.connections].write(data)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait (no longer than needed, and at most 5 s) until ``predicate`` holds."""
        async with asyncio.timeout(5.0):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def messages(self, kind: type) -> list[Received]:
        """What arrived whose decoded message (JT/T 808: packet.message) is a ``kind``."""
        out = []
        for r in self.received:
            message = r.message.message if isinstance(r.message, jt808.Jt808Packet) else r.message
            if isinstance(message, kind):
                out.append(r)
        return out

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            self.refused += 1
            writer.close()
            self._changed.set()
            return
        self.connections += 1
        connection = self.connections
        self._writers[connection] = writer
        self._changed.set()
        feed = self._gt06() if self.protocol == "gt06" else self._jt808()
        try:
            while data := await reader.read(65536):
                for received, answer in feed(connection, data):
                    self.received.append(received)
                    if answer is not None and not self.withhold(received):
                        writer.write(answer)
                self._changed.set()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self._changed.set()

    def _gt06(self) -> Callable[[int, bytes], list[tuple[Received, bytes | None]]]:
        splitter = gt06.Gt06FrameSplitter()
        zone: list[tzinfo] = [UTC]

        def feed(connection: int, data: bytes) -> list[tuple[Received, bytes | None]]:
            out = []
            for frame in splitter.feed(data):
                message = gt06.decode(frame, tz=zone[0], require_crc=True)
                if isinstance(message, gt06.Gt06Login) and message.timezone is not None:
                    zone[0] = message.timezone
                answer = gt06.encode_ack(message)
                broken = self.ack_serial_offset and not isinstance(message, gt06.Gt06Login)
                if answer is not None and broken and message.serial is not None:
                    serial = (message.serial + self.ack_serial_offset) & 0xFFFF
                    answer = gt06.encode_frame(message.protocol, serial=serial)
                out.append((Received(connection, message, frame.raw), answer))
            return out

        return feed

    def _jt808(self) -> Callable[[int, bytes], list[tuple[Received, bytes | None]]]:
        splitter = jt808.Jt808FrameSplitter()
        decoder = jt808.Jt808Decoder()

        def feed(connection: int, data: bytes) -> list[tuple[Received, bytes | None]]:
            out = []
            for frame in splitter.feed(data):
                packet = decoder.decode(frame)
                needed = jt808.required_response(packet)
                answer = None
                if needed is not None:
                    message = packet.message
                    if (
                        isinstance(message, jt808.Authenticate)
                        and message.auth_code != self.auth_code
                    ):
                        needed = jt808.RequiredResponse(
                            needed.msg_id,
                            needed.to,
                            needed.reply_serial,
                            needed.reply_msg_id,
                            result=jt808.GeneralResult.FAILURE,
                        )
                    if self.ack_serial_offset and not isinstance(
                        message, jt808.Register | jt808.Authenticate
                    ):
                        needed = jt808.RequiredResponse(
                            needed.msg_id,
                            needed.to,
                            (needed.reply_serial + self.ack_serial_offset) & 0xFFFF,
                            needed.reply_msg_id,
                            needed.result,
                        )
                    answer = jt808.encode_response(
                        needed, next(self._serials) & 0xFFFF, auth_code=self.auth_code
                    )
                raw = b"\x7e" + jt808.escape(frame.content + bytes([frame.checksum])) + b"\x7e"
                out.append((Received(connection, packet, raw), answer))
            return out

        return feed

    def next_serial(self) -> int:
        return next(self._serials) & 0xFFFF
