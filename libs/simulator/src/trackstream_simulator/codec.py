"""What a virtual device says and understands, per protocol (the device side of the codecs).

A dialect builds the frames one device sends (with its own serial counter) and turns the
server's bytes into :class:`Ack` and :class:`Command` values, using the same splitters and
decoders ingest uses. Everything here is pure except :meth:`Dialect.handshake`, which drives
the login exchange through a ``request`` callable the device supplies.

* GT06: login 0x01 (with the device's UTC offset), locations 0x22 (re-upload flag for
  positions recorded offline, sent one by one), alarms 0x26, heartbeats 0x13. The server
  acknowledges each with a frame of the same protocol number echoing the serial. A 0x80
  command is answered with 0x21 echoing the command's server flag (not acknowledged).
* JT/T 808: register 0x0100 once (the 0x8100 answer carries the auth code, kept across
  reconnections), authenticate 0x0102 on every connection (registering again if refused),
  locations 0x0200, blind-area batches 0x0704 for positions recorded offline, heartbeats
  0x0002. The platform acknowledges with 0x8001 echoing serial and message id. Commands
  (0x8300 text, 0x8105 terminal control, 0x8103 parameters, ...) are answered with 0x0001.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from typing import Literal, Protocol

from trackstream_protocols import ProtocolError, gt06, jt808
from trackstream_protocols.gt06 import device as gt06_device
from trackstream_protocols.jt808 import device as jt808_device
from trackstream_protocols.model import Fix
from trackstream_protocols.reader import ByteReader

__all__ = [
    "Ack",
    "AckKey",
    "Alarm",
    "Command",
    "Dialect",
    "Gt06Dialect",
    "HandshakeRefused",
    "Incoming",
    "Jt808Dialect",
    "Kind",
    "Outbound",
    "Reading",
]

#: (message type, serial): what an acknowledgement echoes
AckKey = tuple[int, int]
Alarm = Literal["sos", "powerCut", "overspeed"]
Kind = Literal["login", "register", "authenticate", "position", "alarm", "batch", "heartbeat"]

#: GT06 devices in the simulated fleet run their clocks on Istanbul time (UTC+3, no DST)
GT06_UTC_OFFSET = timedelta(hours=3)
GT06_TIMEZONE_NAME = "Europe/Istanbul"
#: JT/T 808 terminals report China Standard Time, the standard's default and ingest's
JT808_TIMEZONE_NAME = "Asia/Shanghai"

_GT06_ALARMS: dict[str, int] = {
    "sos": gt06_device.ALARM_SOS,
    "powerCut": gt06_device.ALARM_POWER_CUT,
    "overspeed": gt06_device.ALARM_OVERSPEED,
}
_JT808_ALARMS: dict[str, int] = {
    "sos": jt808_device.ALARM_SOS,
    "powerCut": jt808_device.ALARM_POWER_CUT,
    "overspeed": jt808_device.ALARM_OVERSPEED,
}
_GT06_COMMAND = 0x80
#: what GT06 devices answer to Traccar's relay commands (seen in real 0x15/0x21 replies)
_GT06_REPLIES = {
    gt06.ENGINE_STOP: "Cut off the fuel supply: Success!",
    gt06.ENGINE_RESUME: "Restore fuel supply: Success!",
}
#: JT/T 808 platform commands a terminal acts on (anything else: "unsupported")
_JT808_SUPPORTED = frozenset(
    {jt808.MsgId.TEXT_MESSAGE, jt808.MsgId.TERMINAL_CONTROL, jt808.MsgId.SET_PARAMETERS}
)


class HandshakeRefused(Exception):
    """The server answered the login, registration or authentication with a failure."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One position report as the device's GNSS and sensors produce it."""

    fix: Fix
    ignition: bool
    odometer_m: float
    #: GSM signal on the 0..31 scale of JT/T 808 (GT06 reports 0..4)
    rssi: int
    alarm: Alarm | None = None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A frame to send. ``key`` is what its acknowledgement echoes."""

    key: AckKey
    frame: bytes
    kind: Kind
    #: positions it carries (a batch carries several)
    positions: int = 0
    #: positions recorded while offline and sent late
    archived: bool = False


@dataclass(frozen=True, slots=True)
class Ack:
    """The server acknowledged the message ``key``; ``result`` 0 is success (JT/T 808 result
    byte). ``auth_code`` is set for the JT/T 808 register response."""

    key: AckKey
    result: int = 0
    auth_code: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """The server sent a command; ``reply`` is the device's answer, to write back at once."""

    description: str
    reply: bytes


Incoming = Ack | Command
Request = Callable[[Outbound], Awaitable[Ack]]


class Dialect(Protocol):
    """The per-protocol behaviour :class:`~trackstream_simulator.device.VirtualDevice` uses."""

    name: str

    def reset(self) -> None:
        """A new connection: forget half-received bytes."""

    async def handshake(self, request: Request) -> None:
        """Log in on a fresh connection; ``request`` sends a message and awaits its ack."""

    def position(self, reading: Reading) -> Outbound:
        """A live position (an alarm message when ``reading.alarm`` is set)."""

    def archive(self, readings: Sequence[Reading]) -> list[Outbound]:
        """Messages uploading positions recorded while offline, oldest first."""

    def heartbeat(self) -> Outbound: ...

    def feed(self, data: bytes) -> list[Incoming]:
        """Bytes from the server -> acknowledgements and commands (ProtocolError if garbled)."""


class _Serials:
    __slots__ = ("_next",)

    def __init__(self, first: int = 1) -> None:
        self._next = first & 0xFFFF

    def take(self) -> int:
        serial = self._next
        self._next = (serial + 1) & 0xFFFF
        return serial


class Gt06Dialect:
    name = "gt06"

    def __init__(self, imei: str, *, utc_offset: timedelta = GT06_UTC_OFFSET) -> None:
        self.imei = imei
        self.utc_offset = utc_offset
        self._tz: tzinfo = timezone(utc_offset)
        self._serials = _Serials()
        self._splitter = gt06.Gt06FrameSplitter()

    def reset(self) -> None:
        """A new connection: forget half-received bytes."""
        self._splitter = gt06.Gt06FrameSplitter()

    def login(self) -> Outbound:
        serial = self._serials.take()
        frame = gt06.encode_login(self.imei, serial=serial, utc_offset=self.utc_offset)
        return Outbound((gt06_device.PROTOCOL_LOGIN, serial), frame, "login")

    async def handshake(self, request: Request) -> None:
        await request(self.login())

    def _location(self, reading: Reading, *, reupload: bool) -> Outbound:
        serial = self._serials.take()
        frame = gt06.encode_location(
            reading.fix,
            serial=serial,
            tz=self._tz,
            acc=reading.ignition,
            reupload=reupload,
            mileage=round(reading.odometer_m),
        )
        return Outbound(
            (gt06_device.PROTOCOL_LOCATION, serial),
            frame,
            "position",
            positions=1,
            archived=reupload,
        )

    def position(self, reading: Reading) -> Outbound:
        if reading.alarm is None:
            return self._location(reading, reupload=False)
        serial = self._serials.take()
        frame = gt06.encode_alarm(
            reading.fix,
            serial=serial,
            alarm=_GT06_ALARMS[reading.alarm],
            tz=self._tz,
            acc=reading.ignition,
            info=gt06.terminal_info(ignition=reading.ignition),
            gsm_signal=min(reading.rssi // 7, 4),
        )
        return Outbound((gt06_device.PROTOCOL_ALARM, serial), frame, "alarm", positions=1)

    def archive(self, readings: Sequence[Reading]) -> list[Outbound]:
        return [self._location(reading, reupload=True) for reading in readings]

    def heartbeat(self) -> Outbound:
        serial = self._serials.take()
        frame = gt06.encode_heartbeat(serial=serial, info=gt06.terminal_info())
        return Outbound((gt06_device.PROTOCOL_HEARTBEAT, serial), frame, "heartbeat")

    def feed(self, data: bytes) -> list[Incoming]:
        incoming: list[Incoming] = []
        for frame in self._splitter.feed(data):
            if frame.serial is None:
                continue  # an uncounted Wi-Fi answer: nothing this device asked for
            if frame.protocol == _GT06_COMMAND:
                incoming.append(self._command(frame.content))
            else:
                incoming.append(Ack((frame.protocol, frame.serial)))
        return incoming

    def _command(self, content: bytes) -> Command:
        r = ByteReader(content, "GT06 0x80 command")
        length = r.u8("command length")
        flag = r.u32("server flag")
        text = r.read(max(length - 4, 0), "command").decode("ascii", "replace")
        answer = _GT06_REPLIES.get(text, f"{text.rstrip('#')}:OK")
        reply = gt06.encode_command_reply(answer, server_flag=flag, serial=self._serials.take())
        return Command(f"0x80 {text!r} flag {flag}", reply)


class Jt808Dialect:
    name = "jt808"

    def __init__(
        self,
        phone: str,
        *,
        edition: str = "2013",
        imei: str = "",
        tz: tzinfo = jt808.CHINA_STANDARD_TIME,
        plate: str = "",
    ) -> None:
        self.phone = phone
        self.edition = edition
        self.imei = imei
        self.plate = plate
        self.address = jt808.Jt808Address.from_phone(
            phone, protocol_version=1 if edition == "2019" else None
        )
        self._tz = tz
        self._serials = _Serials(0)
        #: handed out by the platform's 0x8100, kept across connections like real terminals do
        self.auth_code: str | None = None
        self._splitter = jt808.Jt808FrameSplitter()
        self._decoder = jt808.Jt808Decoder()

    def reset(self) -> None:
        """A new connection: forget half-received bytes."""
        self._splitter = jt808.Jt808FrameSplitter()

    def register(self) -> Outbound:
        model_width, id_width = (30, 30) if self.address.is_2019 else (20, 7)
        serial = self._serials.take()
        frame = jt808.encode_register(
            self.address,
            serial,
            manufacturer_id="TRKSM",
            terminal_model="TS-SIM-808"[:model_width],
            terminal_id=self.phone[-id_width:],
            plate_color=1 if self.plate else 0,
            plate=self.plate,
        )
        return Outbound((jt808.MsgId.REGISTER, serial), frame, "register")

    def authenticate(self) -> Outbound:
        serial = self._serials.take()
        frame = jt808.encode_authenticate(
            self.address,
            serial,
            auth_code=self.auth_code or "",
            imei=self.imei,
            software_version="1.0.0",
        )
        return Outbound((jt808.MsgId.AUTHENTICATE, serial), frame, "authenticate")

    async def handshake(self, request: Request) -> None:
        for _ in range(2):
            if not self.auth_code:
                ack = await request(self.register())
                if ack.result != 0 or not ack.auth_code:
                    raise HandshakeRefused(f"JT/T 808 registration refused (result {ack.result})")
                self.auth_code = ack.auth_code
            ack = await request(self.authenticate())
            if ack.result == 0:
                return
            self.auth_code = None  # the platform does not know the code (any more): register
        raise HandshakeRefused("JT/T 808 authentication refused twice")

    def _body(self, reading: Reading) -> bytes:
        return jt808.location_body(
            reading.fix,
            alarm_flags=_JT808_ALARMS[reading.alarm] if reading.alarm else 0,
            ignition=reading.ignition,
            mileage_m=round(reading.odometer_m),
            rssi=reading.rssi,
            tz=self._tz,
        )

    def position(self, reading: Reading) -> Outbound:
        serial = self._serials.take()
        frame = jt808.encode_frame(self.address, jt808.MsgId.LOCATION, serial, self._body(reading))
        kind: Kind = "alarm" if reading.alarm else "position"
        return Outbound((jt808.MsgId.LOCATION, serial), frame, kind, positions=1)

    def archive(self, readings: Sequence[Reading]) -> list[Outbound]:
        out = []
        for batch in jt808.split_batches([self._body(reading) for reading in readings]):
            serial = self._serials.take()
            frame = jt808.encode_location_batch(
                self.address, serial, batch, batch_type=jt808_device.BATCH_BLIND_AREA
            )
            key = (jt808.MsgId.LOCATION_BATCH, serial)
            out.append(Outbound(key, frame, "batch", positions=len(batch), archived=True))
        return out

    def heartbeat(self) -> Outbound:
        serial = self._serials.take()
        frame = jt808.encode_heartbeat(self.address, serial)
        return Outbound((jt808.MsgId.HEARTBEAT, serial), frame, "heartbeat")

    def feed(self, data: bytes) -> list[Incoming]:
        incoming: list[Incoming] = []
        for frame in self._splitter.feed(data):
            packet = self._decoder.decode(frame)
            header, message = packet.header, packet.message
            body = message.body if isinstance(message, jt808.UnknownMessage) else b""
            if header.msg_id == jt808.MsgId.PLATFORM_RESPONSE:
                r = ByteReader(body, "0x8001 platform response")
                reply_serial, reply_id, result = r.u16(), r.u16(), r.u8()
                incoming.append(Ack((reply_id, reply_serial), result))
            elif header.msg_id == jt808.MsgId.REGISTER_RESPONSE:
                r = ByteReader(body, "0x8100 register response")
                reply_serial, result = r.u16(), r.u8()
                code = r.rest().decode("gbk", "replace") if result == 0 else None
                incoming.append(Ack((jt808.MsgId.REGISTER, reply_serial), result, code))
            elif header.msg_id & 0x8000:
                incoming.append(self._command(header.msg_id, header.serial))
            else:
                raise ProtocolError(f"0x{header.msg_id:04X} is no platform message")
        return incoming

    def _command(self, msg_id: int, serial: int) -> Command:
        supported = msg_id in _JT808_SUPPORTED
        result = jt808.GeneralResult.SUCCESS if supported else jt808.GeneralResult.UNSUPPORTED
        reply = jt808.encode_terminal_response(
            self.address,
            self._serials.take(),
            reply_serial=serial,
            reply_msg_id=msg_id,
            result=result,
        )
        return Command(f"0x{msg_id:04X} serial {serial}", reply)
