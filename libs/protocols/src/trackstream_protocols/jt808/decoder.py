"""Frame -> header + typed message.

Body layouts (JT/T 808-2013, with the 2019 differences noted):

* 0x0001 terminal response: reply serial WORD, reply id WORD, result BYTE.
* 0x0002 heartbeat, 0x0003 logout: empty (vendor bytes after a heartbeat are kept).
* 0x0100 register: province WORD, city WORD, manufacturer BYTE[5], model BYTE[20], terminal id
  BYTE[7], plate colour BYTE, plate STRING (GBK). 2019: BYTE[11], BYTE[30], BYTE[30]. 2011
  terminals send an 8-byte model (body shorter than 37 bytes).
* 0x0102 authenticate: 2013 the whole body is the code; 2019 code length BYTE, code,
  IMEI BYTE[15], software version BYTE[20].
* 0x0200 location, 0x0201 (reply serial WORD + location): see :mod:`.location`.
* 0x0704 batch: count WORD, type BYTE (0 normal, 1 blind-area re-upload), then count times
  length WORD + location block.
* 0x0800 multimedia event: id DWORD, type BYTE, format BYTE, event BYTE, channel BYTE.
* 0x0801 multimedia data: the same five fields, the 28-byte location block, then the data.
* 0x0805 snap response: reply serial WORD, result BYTE, and on success count WORD + ids DWORD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import cast

from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.framing import Jt808Frame
from trackstream_protocols.jt808.header import Jt808Header, parse_header
from trackstream_protocols.jt808.location import (
    CHINA_STANDARD_TIME,
    LOCATION_BASIC_SIZE,
    _vendor_item,
    decode_location,
)
from trackstream_protocols.jt808.messages import (
    AdditionalInfo,
    Authenticate,
    Heartbeat,
    Jt808Message,
    Location,
    LocationBatch,
    LocationQueryResponse,
    Logout,
    MsgId,
    MultimediaData,
    MultimediaEvent,
    Register,
    SnapResponse,
    SubPackage,
    TerminalResponse,
    UnknownMessage,
)
from trackstream_protocols.model import Fix
from trackstream_protocols.native import extension
from trackstream_protocols.reader import ByteReader

__all__ = ["Jt808Decoder", "Jt808Packet", "positions"]

_LOCATION = int(MsgId.LOCATION)


@dataclass(slots=True)
class Jt808Packet:
    """A decoded frame: its header, the typed message, and whether the check byte matched."""

    header: Jt808Header
    message: Jt808Message
    checksum_ok: bool = True


if extension is not None:
    extension.jt808_bind(
        Jt808Frame, Jt808Header, Jt808Packet, Location, AdditionalInfo, Fix, _vendor_item
    )


def positions(message: Jt808Message) -> tuple[Fix, ...]:
    """The position fixes a message reports (0x0200, 0x0201, 0x0704).

    The location block inside 0x0801 multimedia data is not included: it repeats a position
    the terminal reports anyway; read it from ``MultimediaData.location`` if needed.
    """
    if isinstance(message, Location):
        return (message.fix,)
    if isinstance(message, LocationQueryResponse):
        return (message.location.fix,)
    if isinstance(message, LocationBatch):
        return tuple(location.fix for location in message.locations)
    return ()


def _text(raw: bytes) -> str:
    """A fixed-width or trailing STRING field: GBK, NUL padding and spaces stripped."""
    return raw.split(b"\x00", 1)[0].decode("gbk", "replace").strip()


class Jt808Decoder:
    """Decodes :class:`Jt808Frame` values into :class:`Jt808Packet` values. Pure, no I/O.

    ``device_tz``: the time zone of terminal timestamps (JT/T 808 default GMT+8).
    ``strict_body_length``: reject a frame whose body is not the declared length (default);
    when False, the body as delimited by the frame is decoded anyway.
    ``jimi_extensions``: decode the Jimi 0xE8/0xEB additional items (else kept raw).
    ``strict_additional_items``: reject a location whose additional items end in a truncated
    item; by default the fix is kept and the tail lands in ``Location.trailing``.
    ``native`` (default): decode the plain 0x0200 frames (2013 header, standard additional
    items, Jimi items through their Python decoder) in the C extension when it is built
    (:mod:`trackstream_protocols.native`), into the same objects; every other frame, and every
    error, is the Python code's. ``native=False``
    runs only the Python code, the specification the C code is tested against.
    """

    def __init__(
        self,
        *,
        device_tz: tzinfo = CHINA_STANDARD_TIME,
        strict_body_length: bool = True,
        jimi_extensions: bool = True,
        strict_additional_items: bool = False,
        native: bool = True,
    ) -> None:
        self.device_tz = device_tz
        self.strict_body_length = strict_body_length
        self.jimi_extensions = jimi_extensions
        self.strict_additional_items = strict_additional_items
        self._native_decode = extension.jt808_decode if native and extension is not None else None

    def decode(self, frame: Jt808Frame) -> Jt808Packet:
        """Decode one frame. A package of a sub-packaged message decodes to
        :class:`SubPackage`; feed it to a reassembler, then :meth:`decode_body` the result."""
        native_decode = self._native_decode
        if native_decode is not None:
            packet = native_decode(
                frame,
                self.device_tz,
                self.strict_body_length,
                self.jimi_extensions,
                self.strict_additional_items,
            )
            if packet is not None:
                return cast(Jt808Packet, packet)
        header, body = parse_header(frame.content)
        if len(body) != header.body_length and self.strict_body_length:
            raise ProtocolError(
                f"0x{header.msg_id:04X}: body length {header.body_length} declared, "
                f"{len(body)} present"
            )
        total, index = header.packet_total, header.packet_index
        if total is not None and index is not None and total > 1:
            return Jt808Packet(header, SubPackage(total, index, body), frame.checksum_ok)
        return Jt808Packet(header, self.decode_body(header, body), frame.checksum_ok)

    def decode_body(self, header: Jt808Header, body: bytes) -> Jt808Message:
        """Decode a whole message body (e.g. one a reassembler put together)."""
        msg_id = header.msg_id
        if header.encryption:
            return UnknownMessage(msg_id, body)
        if msg_id == _LOCATION:  # by far the most frequent: first
            return decode_location(
                body,
                tz=self.device_tz,
                jimi_extensions=self.jimi_extensions,
                strict_items=self.strict_additional_items,
            )
        if msg_id == MsgId.TERMINAL_RESPONSE:
            r = ByteReader(body, "0x0001 terminal response")
            return TerminalResponse(r.u16(), r.u16(), r.u8())
        if msg_id == MsgId.HEARTBEAT:
            return Heartbeat(body)
        if msg_id == MsgId.LOGOUT:
            return Logout()
        if msg_id == MsgId.REGISTER:
            return self._register(header, body)
        if msg_id == MsgId.AUTHENTICATE:
            return self._authenticate(header, body)
        if msg_id == MsgId.LOCATION_QUERY_RESPONSE:
            r = ByteReader(body, "0x0201 location query response")
            serial = r.u16()
            return LocationQueryResponse(serial, self._location(r.rest(), "0x0201 location"))
        if msg_id == MsgId.LOCATION_BATCH:
            return self._batch(body)
        if msg_id == MsgId.MULTIMEDIA_EVENT:
            r = ByteReader(body, "0x0800 multimedia event")
            return MultimediaEvent(r.u32(), r.u8(), r.u8(), r.u8(), r.u8())
        if msg_id == MsgId.MULTIMEDIA_DATA:
            return self._multimedia(body)
        if msg_id == MsgId.SNAP_RESPONSE:
            return self._snap_response(body)
        return UnknownMessage(msg_id, body)

    def _location(
        self, body: bytes, what: str = "0x0200 location", *, archive: bool = False
    ) -> Location:
        return decode_location(
            body,
            tz=self.device_tz,
            jimi_extensions=self.jimi_extensions,
            archive=archive,
            strict_items=self.strict_additional_items,
            what=what,
        )

    @staticmethod
    def _register(header: Jt808Header, body: bytes) -> Register:
        r = ByteReader(body, "0x0100 register")
        province, city = r.u16(), r.u16()
        if header.is_2019:
            widths = (11, 30, 30)
        elif len(body) >= 37:
            widths = (5, 20, 7)
        else:
            widths = (5, 8, 7)  # JT/T 808-2011
        manufacturer, model, terminal = (_text(r.read(w)) for w in widths)
        color = r.u8()
        return Register(province, city, manufacturer, model, terminal, color, _text(r.rest()))

    @staticmethod
    def _authenticate(header: Jt808Header, body: bytes) -> Authenticate:
        if header.is_2019 and body and 1 + body[0] <= len(body):
            r = ByteReader(body, "0x0102 authenticate")
            code = _text(r.read(r.u8()))
            imei = _text(r.read(15)) if r.remaining >= 15 else None
            version = _text(r.read(min(20, r.remaining))) if r.remaining else None
            return Authenticate(code, imei, version)
        return Authenticate(_text(body))

    def _batch(self, body: bytes) -> LocationBatch:
        r = ByteReader(body, "0x0704 batch")
        count, batch_type = r.u16(), r.u8()
        archive = batch_type == 1
        items = []
        for i in range(count):
            size = r.u16()
            what = f"0x0704 batch item {i + 1} of {count}"
            items.append(self._location(r.read(size), what, archive=archive))
        return LocationBatch(batch_type, tuple(items))

    def _multimedia(self, body: bytes) -> MultimediaData:
        r = ByteReader(body, "0x0801 multimedia data")
        media_id, media_type, media_format, event, channel = r.u32(), r.u8(), r.u8(), r.u8(), r.u8()
        location = self._location(r.read(LOCATION_BASIC_SIZE), "0x0801 location")
        return MultimediaData(
            media_id, media_type, media_format, event, channel, location, r.rest()
        )

    @staticmethod
    def _snap_response(body: bytes) -> SnapResponse:
        r = ByteReader(body, "0x0805 snap response")
        serial, result = r.u16(), r.u8()
        if not r.remaining:
            return SnapResponse(serial, result)
        count = r.u16()
        return SnapResponse(serial, result, tuple(r.u32() for _ in range(count)))
