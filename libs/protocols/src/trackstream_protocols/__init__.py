"""Pure device protocol codecs: framing, decoding and encoding, with no I/O.

One module per protocol with the same shape (``gt06``, ``jt808``): a frame splitter that turns a
byte stream into frames, a decoder that turns a frame into typed messages, and an encoder for the
responses and commands sent back. Everything a codec raises is a :class:`ProtocolError`.
"""

from trackstream_protocols.errors import ChecksumError, FrameTooLarge, ProtocolError
from trackstream_protocols.model import Fix

__all__ = ["ChecksumError", "Fix", "FrameTooLarge", "ProtocolError"]
