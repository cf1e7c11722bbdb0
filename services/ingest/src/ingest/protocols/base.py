from __future__ import annotations

from typing import Protocol

from ingest.domain.commands import Command
from ingest.domain.reports import Inbound
from ingest.domain.session import DeviceSession
from trackstream_protocols.errors import ProtocolError


class GarbageGuard:
    """Closes a connection that sends bytes no frame can be made of: splitters skip garbage to
    find the next frame, so without a limit a stream of noise would hold the connection open."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._since_last_frame = 0

    def check(self, skipped_before: int, skipped_after: int, frames: int) -> None:
        if frames:
            self._since_last_frame = 0
        self._since_last_frame += skipped_after - skipped_before
        if self._since_last_frame > self._limit:
            raise ProtocolError(f"{self._since_last_frame} bytes of garbage without a frame")


class UnsupportedCommand(Exception):
    """The protocol cannot carry this kind of command."""


class ProtocolAdapter(Protocol):
    """One connection's codec: bytes in, decoded frames out; commands to bytes."""

    #: trackstream.tracking.v1.Protocol value
    protocol: int
    #: "gt06", "jt808": used in metric labels and event sources
    name: str

    def feed(self, data: bytes) -> list[Inbound]:
        """Frames completed by ``data``, decoded. Raises ``ProtocolError`` on garbage."""
        ...

    def encode_command(self, command: Command, session: DeviceSession) -> tuple[bytes, int]:
        """The bytes that carry ``command`` and the correlation its reply will echo."""
        ...
