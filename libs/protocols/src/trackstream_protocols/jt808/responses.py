"""Which uplink needs which reply, so ingest can answer only after a durable publish.

* 0x0100 register -> 0x8100 register response (the caller supplies the auth code).
* 0x0801 multimedia data, once whole -> 0x8800 multimedia response (media id, nothing to resend).
* 0x0001 terminal response, 0x0201 location query response, 0x0805 snap response -> none: they
  answer a platform message.
* a package of a sub-packaged message -> none until the message is whole, then as above; a
  whole sub-packaged message is answered with the serial of its first package.
* anything else (0x0002, 0x0003, 0x0102, 0x0200, 0x0704, 0x0800, ...) -> 0x8001 general
  response, result SUCCESS; messages this codec does not decode get result UNSUPPORTED.

Missing packages are asked for with 0x8800 (multimedia) or 0x8003 (anything else), from
:meth:`~trackstream_protocols.jt808.Jt808Reassembler.pending`.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackstream_protocols.errors import ProtocolError
from trackstream_protocols.jt808.decoder import Jt808Packet
from trackstream_protocols.jt808.encoder import (
    encode_general_response,
    encode_multimedia_response,
    encode_register_response,
)
from trackstream_protocols.jt808.header import Jt808Address
from trackstream_protocols.jt808.messages import (
    GeneralResult,
    LocationQueryResponse,
    MsgId,
    MultimediaData,
    Register,
    RegisterResult,
    SnapResponse,
    SubPackage,
    TerminalResponse,
    UnknownMessage,
)

__all__ = ["RequiredResponse", "encode_response", "required_response"]


@dataclass(frozen=True, slots=True)
class RequiredResponse:
    """The reply an uplink message needs: ``msg_id`` 0x8001, 0x8100 or 0x8800."""

    msg_id: int
    to: Jt808Address
    reply_serial: int
    reply_msg_id: int
    result: int = 0
    #: the 0x0801 media id, for 0x8800
    media_id: int | None = None


def required_response(packet: Jt808Packet) -> RequiredResponse | None:
    """The reply ``packet`` needs, or None when the platform must not answer it."""
    header, message = packet.header, packet.message
    to, serial = header.address, header.serial
    if isinstance(message, SubPackage | TerminalResponse | LocationQueryResponse | SnapResponse):
        return None
    if isinstance(message, Register):
        return RequiredResponse(MsgId.REGISTER_RESPONSE, to, serial, header.msg_id)
    if isinstance(message, MultimediaData):
        return RequiredResponse(
            MsgId.MULTIMEDIA_RESPONSE, to, serial, header.msg_id, media_id=message.media_id
        )
    result = GeneralResult.UNSUPPORTED if isinstance(message, UnknownMessage) else 0
    return RequiredResponse(MsgId.PLATFORM_RESPONSE, to, serial, header.msg_id, result)


def encode_response(
    needed: RequiredResponse, serial: int, *, auth_code: str | None = None
) -> bytes:
    """Encode ``needed`` with the platform's ``serial``; 0x8100 needs ``auth_code``."""
    if needed.msg_id == MsgId.REGISTER_RESPONSE:
        if not auth_code:
            raise ProtocolError("a register response needs an auth code")
        return encode_register_response(
            needed.to,
            serial,
            reply_serial=needed.reply_serial,
            result=RegisterResult(needed.result),
            auth_code=auth_code,
        )
    if needed.msg_id == MsgId.MULTIMEDIA_RESPONSE and needed.media_id is not None:
        return encode_multimedia_response(needed.to, serial, media_id=needed.media_id)
    return encode_general_response(
        needed.to,
        serial,
        reply_serial=needed.reply_serial,
        reply_msg_id=needed.reply_msg_id,
        result=GeneralResult(needed.result),
    )
