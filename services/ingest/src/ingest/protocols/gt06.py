"""GT06/Concox on one connection: frames to reports, commands to 0x80 frames."""

from __future__ import annotations

from datetime import tzinfo

from ingest.domain.commands import Command
from ingest.domain.reports import (
    AlarmReport,
    CommandReply,
    Identify,
    Inbound,
    PositionReport,
    Report,
    StatusReport,
)
from ingest.domain.session import DeviceSession
from ingest.protocols.base import GarbageGuard, UnsupportedCommand
from trackstream.tracking.v1 import command_pb2, fix_pb2
from trackstream_protocols import gt06
from trackstream_protocols.model import Fix


def _alarm_names(alarm: str | None) -> tuple[str, ...]:
    return tuple(a for a in (alarm or "").split(",") if a)


class Gt06Adapter:
    protocol: int = fix_pb2.PROTOCOL_GT06
    name: str = "gt06"

    def __init__(self, *, max_frame_size: int, default_tz: tzinfo) -> None:
        self._splitter = gt06.Gt06FrameSplitter(max_frame_size)
        self._garbage = GarbageGuard(max_frame_size)
        self._tz = default_tz

    def feed(self, data: bytes) -> list[Inbound]:
        inbounds = []
        skipped = self._splitter.skipped_bytes
        frames = self._splitter.feed(data)
        self._garbage.check(skipped, self._splitter.skipped_bytes, len(frames))
        for frame in frames:
            message = gt06.decode(frame, tz=self._tz)
            if isinstance(message, gt06.Gt06Login) and message.timezone is not None:
                self._tz = message.timezone  # later frames are in the device's zone
            inbounds.append(
                Inbound(
                    self._reports(message),
                    gt06.encode_ack(message),
                    frame.serial or 0,
                    frame.crc_ok is not False,
                )
            )
        return inbounds

    def _reports(self, message: gt06.Gt06Message) -> tuple[Report, ...]:
        if type(message) is gt06.Gt06Location:  # most frames: one position, nothing else
            fix = message.fix
            if fix is None:
                return ()
            archived = bool(fix.attributes.get("archive"))
            return (PositionReport(fix, message.serial or 0, archived),)
        return tuple(self._all_reports(message))

    def _all_reports(self, message: gt06.Gt06Message) -> list[Report]:
        serial = message.serial or 0
        fix: Fix | None = getattr(message, "fix", None)
        reports: list[Report] = []
        if isinstance(message, gt06.Gt06Login):
            model = f"{message.type_id:04X}" if message.type_id is not None else ""
            reports.append(Identify(message.imei, model=model, timezone=message.timezone))
        if fix is not None:
            reports.append(
                PositionReport(fix, serial, archived=bool(fix.attributes.get("archive")))
            )
        if isinstance(message, gt06.Gt06Alarm | gt06.Gt06DashcamAlarm):
            names = _alarm_names(message.alarm)
            if names:
                time = fix.fix_time if fix is not None else getattr(message, "device_time", None)
                reports.append(
                    AlarmReport(names, message.alarm_code, time, serial, fix, message.attributes)
                )
        elif isinstance(message, gt06.Gt06Heartbeat | gt06.Gt06Info):
            reports.append(StatusReport(None, serial, message.attributes))
            names = _alarm_names(str(message.attributes.get("alarm") or ""))
            if names:
                reports.append(AlarmReport(names, 0, None, serial, None, message.attributes))
        elif isinstance(message, gt06.Gt06TextReply):
            reports.append(CommandReply(message.server_flag, message.text))
        return reports

    def encode_command(self, command: Command, session: DeviceSession) -> tuple[bytes, int]:
        flag = session.take_downlink_serial()
        if command.kind == command_pb2.COMMAND_KIND_ENGINE_STOP:
            return gt06.engine_stop_command(serial=flag, server_flag=flag), flag
        if command.kind == command_pb2.COMMAND_KIND_ENGINE_RESUME:
            return gt06.engine_resume_command(serial=flag, server_flag=flag), flag
        if command.kind == command_pb2.COMMAND_KIND_CUSTOM_TEXT and command.text:
            return gt06.encode_command(command.text, serial=flag, server_flag=flag), flag
        kind = command_pb2.CommandKind.Name(command.kind)  # type: ignore[arg-type]
        raise UnsupportedCommand(f"GT06 devices cannot carry {kind}")
