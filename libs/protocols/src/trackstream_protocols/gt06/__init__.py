"""GT06 / Concox / Jimi binary protocol codec (protocols.md §4), ported from Traccar's pattern.

Shape (style.md §8): a frame splitter (:class:`Gt06FrameSplitter`, byte stream -> frames), a
decoder (:func:`decode`, frame -> typed message) and an encoder (acknowledgements, time
response, 0x80 commands); :mod:`.device` builds the frames a device sends (login, location,
heartbeat, alarm, command reply) for simulators and tests. Pure: no I/O. Everything raised for
bad input is a :class:`~trackstream_protocols.errors.ProtocolError`.

Typical use per connection::

    splitter = Gt06FrameSplitter()
    tz = UTC
    for frame in splitter.feed(data):
        message = decode(frame, tz=tz)
        if isinstance(message, Gt06Login) and message.timezone is not None:
            tz = message.timezone
        ...publish durably...
        if needs_ack(message):
            transport.write(encode_ack(message))
"""

from trackstream_protocols.gt06.decoder import DECODED_PROTOCOLS, decode
from trackstream_protocols.gt06.device import (
    ALARM_OVERSPEED,
    ALARM_POWER_CUT,
    ALARM_SOS,
    encode_alarm,
    encode_command_reply,
    encode_heartbeat,
    encode_location,
    encode_login,
    terminal_info,
    timezone_word,
)
from trackstream_protocols.gt06.encoder import (
    ENGINE_RESUME,
    ENGINE_STOP,
    encode_ack,
    encode_address_response,
    encode_command,
    encode_frame,
    encode_time_response,
    engine_resume_command,
    engine_stop_command,
    needs_ack,
)
from trackstream_protocols.gt06.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    Gt06Frame,
    Gt06FrameSplitter,
    crc16_x25,
    parse_frame,
)
from trackstream_protocols.gt06.messages import (
    Gt06Alarm,
    Gt06CellReport,
    Gt06DashcamAlarm,
    Gt06Heartbeat,
    Gt06Info,
    Gt06Location,
    Gt06Login,
    Gt06Message,
    Gt06TextReply,
    Gt06TimeRequest,
    Gt06WifiReport,
    UnknownMessage,
)
from trackstream_protocols.gt06.tables import ALARM_CODES, DASHCAM_EVENT_CODES

__all__ = [
    "ALARM_CODES",
    "ALARM_OVERSPEED",
    "ALARM_POWER_CUT",
    "ALARM_SOS",
    "DASHCAM_EVENT_CODES",
    "DECODED_PROTOCOLS",
    "DEFAULT_MAX_FRAME_SIZE",
    "ENGINE_RESUME",
    "ENGINE_STOP",
    "Gt06Alarm",
    "Gt06CellReport",
    "Gt06DashcamAlarm",
    "Gt06Frame",
    "Gt06FrameSplitter",
    "Gt06Heartbeat",
    "Gt06Info",
    "Gt06Location",
    "Gt06Login",
    "Gt06Message",
    "Gt06TextReply",
    "Gt06TimeRequest",
    "Gt06WifiReport",
    "UnknownMessage",
    "crc16_x25",
    "decode",
    "encode_ack",
    "encode_address_response",
    "encode_alarm",
    "encode_command",
    "encode_command_reply",
    "encode_frame",
    "encode_heartbeat",
    "encode_location",
    "encode_login",
    "encode_time_response",
    "engine_resume_command",
    "engine_stop_command",
    "needs_ack",
    "parse_frame",
    "terminal_info",
    "timezone_word",
]
