"""The one error family every codec raises; ingest closes a connection on it and logs the reason."""


class ProtocolError(Exception):
    """Input that does not follow the protocol. The message says what was wrong, never whose."""


class FrameTooLarge(ProtocolError):
    """A frame (or the buffer waiting for one) grew past the configured maximum."""


class ChecksumError(ProtocolError):
    """A frame whose checksum does not match its content."""
