"""JT/T 808 (2013 and 2019 editions) codec: pure, no I/O.

Typical ingest flow::

    splitter = Jt808FrameSplitter()
    decoder = Jt808Decoder()                     # device_tz=GMT+8 by default
    reassembler = Jt808Reassembler()
    for frame in splitter.feed(data):
        packet = decoder.decode(frame)
        if isinstance(packet.message, SubPackage):
            whole = reassembler.add(packet.header, packet.message.data, now=clock())
            if whole is None:
                continue
            packet = Jt808Packet(whole.header, decoder.decode_body(whole.header, whole.body))
        publish(packet)                          # durably, then:
        needed = required_response(packet)
        if needed is not None:
            send(encode_response(needed, next_serial(), auth_code=...))

Terminal-side builders (register, authenticate, location, batch, heartbeat, terminal response)
live in :mod:`.device`, for simulators and tests.

Sources: docs/protocols.md §5 and §9, the JT/T 808-2013/2019 layouts as implemented by public
codecs (SmallChi/JT808, cuteLittleDevil/go-jt808, Traccar's ``Jt808ProtocolDecoder``); no code
was copied.
"""

from trackstream_protocols.jt808.decoder import Jt808Decoder, Jt808Packet, positions
from trackstream_protocols.jt808.device import (
    encode_authenticate,
    encode_heartbeat,
    encode_location,
    encode_location_batch,
    encode_register,
    encode_terminal_response,
    location_body,
    split_batches,
    status_flags,
)
from trackstream_protocols.jt808.encoder import (
    Jt808Parameter,
    ParamType,
    PhotoResolution,
    encode_frame,
    encode_frames,
    encode_general_response,
    encode_multimedia_response,
    encode_register_response,
    encode_resend_request,
    encode_set_parameters,
    encode_take_photo,
    encode_terminal_control,
    encode_text_message,
    standard_parameter,
)
from trackstream_protocols.jt808.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    Jt808Frame,
    Jt808FrameSplitter,
    Jt808FrameTooLarge,
    escape,
    unescape,
    xor_checksum,
)
from trackstream_protocols.jt808.header import Jt808Address, Jt808Header, parse_header
from trackstream_protocols.jt808.location import (
    CHINA_STANDARD_TIME,
    JIMI_E8_ALARMS,
    alarm_names,
    decode_location,
)
from trackstream_protocols.jt808.messages import (
    AdditionalInfo,
    Authenticate,
    GeneralResult,
    Heartbeat,
    Jt808Message,
    Location,
    LocationBatch,
    LocationQueryResponse,
    Logout,
    MediaEvent,
    MediaFormat,
    MediaType,
    MsgId,
    MultimediaData,
    MultimediaEvent,
    Register,
    RegisterResult,
    SnapResponse,
    SubPackage,
    TerminalControlCommand,
    TerminalResponse,
    UnknownMessage,
)
from trackstream_protocols.jt808.reassembly import (
    Jt808PendingMessage,
    Jt808Reassembled,
    Jt808Reassembler,
)
from trackstream_protocols.jt808.responses import (
    RequiredResponse,
    encode_response,
    required_response,
)

__all__ = [
    "CHINA_STANDARD_TIME",
    "DEFAULT_MAX_FRAME_SIZE",
    "JIMI_E8_ALARMS",
    "AdditionalInfo",
    "Authenticate",
    "GeneralResult",
    "Heartbeat",
    "Jt808Address",
    "Jt808Decoder",
    "Jt808Frame",
    "Jt808FrameSplitter",
    "Jt808FrameTooLarge",
    "Jt808Header",
    "Jt808Message",
    "Jt808Packet",
    "Jt808Parameter",
    "Jt808PendingMessage",
    "Jt808Reassembled",
    "Jt808Reassembler",
    "Location",
    "LocationBatch",
    "LocationQueryResponse",
    "Logout",
    "MediaEvent",
    "MediaFormat",
    "MediaType",
    "MsgId",
    "MultimediaData",
    "MultimediaEvent",
    "ParamType",
    "PhotoResolution",
    "Register",
    "RegisterResult",
    "RequiredResponse",
    "SnapResponse",
    "SubPackage",
    "TerminalControlCommand",
    "TerminalResponse",
    "UnknownMessage",
    "alarm_names",
    "decode_location",
    "encode_authenticate",
    "encode_frame",
    "encode_frames",
    "encode_general_response",
    "encode_heartbeat",
    "encode_location",
    "encode_location_batch",
    "encode_multimedia_response",
    "encode_register",
    "encode_register_response",
    "encode_resend_request",
    "encode_response",
    "encode_set_parameters",
    "encode_take_photo",
    "encode_terminal_control",
    "encode_terminal_response",
    "encode_text_message",
    "escape",
    "location_body",
    "parse_header",
    "positions",
    "required_response",
    "split_batches",
    "standard_parameter",
    "status_flags",
    "unescape",
    "xor_checksum",
]
