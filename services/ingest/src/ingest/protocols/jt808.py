"""JT/T 808 (2013 and 2019) on one connection: frames to reports, sub-packages reassembled,
media collected whole, commands to 0x8105/0x8300/0x8103/0x8801 frames."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import tzinfo

from ingest.domain.commands import Command
from ingest.domain.reports import (
    AlarmReport,
    CommandReply,
    Identify,
    Inbound,
    Logout,
    MediaReport,
    PositionReport,
    Report,
    StatusReport,
)
from ingest.domain.session import DeviceSession
from ingest.protocols.base import GarbageGuard, UnsupportedCommand
from trackstream.tracking.v1 import command_pb2, fix_pb2
from trackstream_protocols import jt808
from trackstream_protocols.bcd import is_bcd
from trackstream_protocols.errors import ProtocolError

#: (content type, file extension) by 0x0801 format code
MEDIA_FORMATS = {
    jt808.MediaFormat.JPEG: ("image/jpeg", "jpg"),
    jt808.MediaFormat.TIF: ("image/tiff", "tif"),
    jt808.MediaFormat.MP3: ("audio/mpeg", "mp3"),
    jt808.MediaFormat.WAV: ("audio/wav", "wav"),
    jt808.MediaFormat.WMV: ("video/x-ms-wmv", "wmv"),
}
MEDIA_KINDS = {
    jt808.MediaType.IMAGE: "image",
    jt808.MediaType.AUDIO: "audio",
    jt808.MediaType.VIDEO: "video",
}
#: Traccar's 0x8105 command words for cutting and restoring fuel/power
ENGINE_STOP_WORD = 0xF0
ENGINE_RESUME_WORD = 0xF1


def phone_of(header: jt808.Jt808Header) -> str:
    """The terminal's identifier: its BCD phone digits (or, for the few terminals that put
    binary there, the number the bytes spell)."""
    raw = header.phone_bcd
    return raw.hex() if is_bcd(raw) else str(int.from_bytes(raw, "big"))


class Jt808Adapter:
    protocol: int = fix_pb2.PROTOCOL_JT808
    name: str = "jt808"

    def __init__(
        self,
        session: DeviceSession,
        *,
        max_frame_size: int,
        device_tz: tzinfo,
        auth_secret: bytes,
        verify_auth_code: bool = True,
    ) -> None:
        self._session = session
        # bad-checksum frames come through flagged; the handler applies the drop policy
        self._splitter = jt808.Jt808FrameSplitter(max_frame_size, keep_bad_checksum=True)
        self._garbage = GarbageGuard(max_frame_size)
        self._decoder = jt808.Jt808Decoder(device_tz=device_tz)
        self._reassembler = jt808.Jt808Reassembler()
        self._auth_secret = auth_secret
        self._verify = verify_auth_code
        self._address: jt808.Jt808Address | None = None

    def auth_code(self, phone: str) -> str:
        """The code 0x8100 hands out and 0x0102 must bring back: keyed, so it survives
        restarts and cannot be guessed from the phone number."""
        return hmac.new(
            self._auth_secret, f"jt808-auth:{phone}".encode(), hashlib.sha256
        ).hexdigest()[:16]

    def feed(self, data: bytes) -> list[Inbound]:
        inbounds = []
        skipped = self._splitter.garbage_bytes
        frames = self._splitter.feed(data)
        self._garbage.check(skipped, self._splitter.garbage_bytes, len(frames))
        for frame in frames:
            packet = self._decoder.decode(frame)
            if isinstance(packet.message, jt808.SubPackage):
                whole = self._reassembler.add(packet.header, packet.message.data, time.monotonic())
                if whole is None:
                    continue
                body = self._decoder.decode_body(whole.header, whole.body)
                packet = jt808.Jt808Packet(whole.header, body, packet.checksum_ok)
            self._address = packet.header.address
            inbounds.append(self._inbound(packet))
        return inbounds

    def _inbound(self, packet: jt808.Jt808Packet) -> Inbound:
        header, message = packet.header, packet.message
        phone = phone_of(header)
        reports: list[Report] = []
        needed = jt808.required_response(packet)
        response: bytes | None = None
        if isinstance(message, jt808.Authenticate):
            if not self._verify or hmac.compare_digest(message.auth_code, self.auth_code(phone)):
                reports.append(Identify(phone, edition=header.edition))
            elif needed is not None:  # wrong code: the terminal registers again
                needed = jt808.RequiredResponse(
                    needed.msg_id,
                    needed.to,
                    needed.reply_serial,
                    needed.reply_msg_id,
                    result=jt808.GeneralResult.FAILURE,
                )
        elif isinstance(message, jt808.Register):
            model = message.terminal_model
            if not self._verify:
                reports.append(Identify(phone, model=model, edition=header.edition))
        elif not self._verify:
            reports.append(Identify(phone, edition=header.edition))
        reports += self._reports(message, header.serial)
        if needed is not None:
            auth = self.auth_code(phone) if isinstance(message, jt808.Register) else None
            response = jt808.encode_response(
                needed, self._session.take_downlink_serial(), auth_code=auth
            )
        return Inbound(tuple(reports), response, header.serial, packet.checksum_ok)

    def _reports(self, message: jt808.Jt808Message, serial: int) -> list[Report]:
        reports: list[Report] = []
        if isinstance(message, jt808.Location | jt808.LocationQueryResponse):
            location = message if isinstance(message, jt808.Location) else message.location
            reports += self._location(location, serial, archived=False)
        elif isinstance(message, jt808.LocationBatch):
            for location in message.locations:
                reports += self._location(location, serial, archived=message.archive)
        elif isinstance(message, jt808.Heartbeat):
            reports.append(StatusReport(None, serial, {}))
        elif isinstance(message, jt808.Logout):
            reports.append(Logout())
        elif isinstance(message, jt808.TerminalResponse):
            reports.append(
                CommandReply(message.reply_serial, f"result {message.result}", message.result == 0)
            )
        elif isinstance(message, jt808.SnapResponse):
            ids = ",".join(str(i) for i in message.media_ids)
            reports.append(
                CommandReply(
                    message.reply_serial,
                    f"result {message.result}; media {ids}",
                    message.result == 0,
                )
            )
        elif isinstance(message, jt808.MultimediaData):
            content_type, extension = MEDIA_FORMATS.get(
                message.media_format,
                ("application/octet-stream", "bin"),  # type: ignore[call-overload]
            )
            reports.append(
                MediaReport(
                    media_id=message.media_id,
                    media_type=MEDIA_KINDS.get(message.media_type, "image"),  # type: ignore[call-overload]
                    content_type=content_type,
                    extension=extension,
                    event_code=message.event,
                    channel=message.channel,
                    data=message.data,
                    serial=serial,
                    fix=message.location.fix,
                )
            )
        return reports

    @staticmethod
    def _location(location: jt808.Location, serial: int, *, archived: bool) -> list[Report]:
        fix = location.fix
        reports: list[Report] = [PositionReport(fix, serial, archived=archived)]
        names = tuple(jt808.alarm_names(location.alarm_flags))
        if names and not archived:
            reports.append(
                AlarmReport(
                    names, location.alarm_flags, fix.fix_time, serial, fix, dict(fix.attributes)
                )
            )
        return reports

    def encode_command(self, command: Command, session: DeviceSession) -> tuple[bytes, int]:
        if self._address is None:
            raise UnsupportedCommand("no JT/T 808 header seen on this connection yet")
        to, serial, params = self._address, session.take_downlink_serial(), command.parameters
        try:
            if command.kind == command_pb2.COMMAND_KIND_ENGINE_STOP:
                data = jt808.encode_terminal_control(to, serial, command=ENGINE_STOP_WORD)
            elif command.kind == command_pb2.COMMAND_KIND_ENGINE_RESUME:
                data = jt808.encode_terminal_control(to, serial, command=ENGINE_RESUME_WORD)
            elif command.kind == command_pb2.COMMAND_KIND_CUSTOM_TEXT:
                data = jt808.encode_text_message(to, serial, text=command.text)
            elif command.kind == command_pb2.COMMAND_KIND_TERMINAL_CONTROL:
                word = int(params.get("command", "0"), 0)
                data = jt808.encode_terminal_control(
                    to, serial, command=word, params=params.get("params", "")
                )
            elif command.kind == command_pb2.COMMAND_KIND_SET_PARAMETERS:
                parameters = [
                    jt808.standard_parameter(int(k, 0), int(v) if v.isdigit() else v)
                    for k, v in sorted(params.items())
                ]
                data = b"".join(jt808.encode_set_parameters(to, serial, parameters))
            elif command.kind == command_pb2.COMMAND_KIND_TAKE_PHOTO:
                data = jt808.encode_take_photo(
                    to,
                    serial,
                    channel=int(params.get("channel", "1")),
                    count=int(params.get("count", "1")),
                    # photos: seconds between shots; count 0xFFFF (a clip): recording time
                    interval_s=int(params.get("interval_s", "0")),
                )
            else:
                raise UnsupportedCommand(
                    f"JT/T 808 devices cannot carry command kind {command.kind}"
                )
        except (ValueError, ProtocolError) as err:
            raise UnsupportedCommand(f"bad command parameters: {err}") from None
        return data, serial
