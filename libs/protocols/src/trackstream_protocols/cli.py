"""``python -m trackstream_protocols decode``: decode device frames for people debugging devices.

Usage::

    python -m trackstream_protocols decode gt06 78780d01086471700328358100093f040d0a
    python -m trackstream_protocols decode jt808 --file frames.txt --tz +08:00
    cat frames.txt | python -m trackstream_protocols decode gt06 --file -

Input: hex frames as arguments, or ``--file`` with one hex frame per line (``-`` reads stdin);
blank lines and ``#`` comments are skipped, whitespace inside the hex is allowed. A line may hold
several frames back to back. JT/T 808 frames may be written on the wire (``7E ... 7E``, escaped)
or as Traccar's decoder tests show them (un-escaped, without delimiters).

Output: one JSON object per frame on stdout (``--pretty`` indents it):

* ``frame``: protocol number / message id, serial, whether the checksum matched;
* ``message``: the decoded message: dataclasses as objects with their class under ``type``,
  datetimes in ISO 8601, bytes as hex, enums by name, time zones as their UTC offset;
* ``response``: the bytes the platform would answer with, as hex (null when it answers nothing):
  GT06 ``encode_ack``; JT/T 808 ``required_response`` + ``encode_response`` with platform
  serials counting up from ``--first-serial`` (default 0) and, for a register response, the
  terminal id as auth code (Traccar's choice) unless ``--auth-code`` is given.

JT/T 808 sub-packages are reassembled across lines with
:class:`~trackstream_protocols.jt808.Jt808Reassembler`: the frame that completes a message
carries the whole message and its response under ``reassembled``; messages still incomplete at
the end of the input are listed as ``incomplete`` notes.

A frame that does not decode (bad hex, no frame, a :class:`ProtocolError`) prints an object with
``error`` instead and decoding goes on; with ``--drop-bad-checksum`` a frame whose checksum does
not match is such an error (the platform would drop it). The exit status is 1 if any frame
failed, 2 for a usage error, else 0.

``--tz`` is the device clock's zone: ``UTC``, ``+08:00``, ``-4``, ``GMT+8`` or an IANA name.
Defaults: GT06 UTC until a login frame reports the device's zone (as ingest does), JT/T 808
GMT+8 (the standard's zone).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trackstream_protocols import gt06, jt808
from trackstream_protocols.errors import ProtocolError

__all__ = ["main", "parse_tz", "to_json"]

PROTOCOLS = ("gt06", "jt808")


# ---------------------------------------------------------------------------------------------
# values -> JSON


def _offset(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def to_json(value: object) -> object:
    """``value`` as plain JSON data (see the module docs for the conventions)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, tzinfo):
        return _offset(value.utcoffset(None))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        kind = "class" if any(f.name == "type" for f in fields) else "type"
        out: dict[str, object] = {kind: type(value).__name__}
        for f in fields:
            out[f.name] = to_json(getattr(value, f.name))
        return out
    if isinstance(value, dict):
        return {str(to_json(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return str(value)


# ---------------------------------------------------------------------------------------------
# input

_OFFSET_RE = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


def parse_tz(text: str) -> tzinfo:
    """``UTC``/``Z``, ``+08:00``/``+0800``/``+8``/``GMT+8``, or an IANA zone name."""
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = _OFFSET_RE.fullmatch(text.strip())
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            raise ValueError(f"offset out of range: {text}")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {text}") from None


def _lines(hex_args: Sequence[str], file: IO[str] | None) -> Iterator[tuple[int, str]]:
    """(line number, hex text) for every frame line, comments and blanks skipped."""
    source: Iterator[str] = iter(hex_args) if file is None else file
    for number, line in enumerate(source, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            yield number, text


def _hex(text: str) -> bytes:
    compact = re.sub(r"\s+", "", text)
    if compact[:2].lower() == "0x":
        compact = compact[2:]
    try:
        return bytes.fromhex(compact)
    except ValueError:
        raise ProtocolError("not hexadecimal (or an odd number of digits)") from None


# ---------------------------------------------------------------------------------------------
# decoders


class _Output:
    def __init__(self, stream: IO[str], pretty: bool) -> None:
        self.stream = stream
        self.pretty = pretty
        self.failed = 0

    def emit(self, obj: dict[str, object]) -> None:
        if "error" in obj:
            self.failed += 1
        text = json.dumps(obj, indent=2 if self.pretty else None, ensure_ascii=False)
        print(text, file=self.stream)

    def error(self, line: int, error: Exception, **extra: object) -> None:
        self.emit({"line": line, **extra, "error": str(error), "error_type": type(error).__name__})


class _Gt06:
    def __init__(self, tz: tzinfo | None, drop_bad_checksum: bool) -> None:
        self.fixed_tz = tz
        self.tz: tzinfo = tz if tz is not None else UTC
        self.drop_bad_checksum = drop_bad_checksum

    def line(self, number: int, data: bytes, out: _Output) -> None:
        splitter = gt06.Gt06FrameSplitter(max(len(data), gt06.DEFAULT_MAX_FRAME_SIZE))
        frames = splitter.feed(data)
        if not frames and splitter.buffered:
            raise ProtocolError(f"truncated: {splitter.buffered} bytes of an incomplete frame")
        if not frames:
            raise ProtocolError("no GT06 frame (78 78 / 79 79 ... 0D 0A) found")
        for frame in frames:
            info: dict[str, object] = {
                "protocol_number": f"0x{frame.protocol:02X}",
                "serial": frame.serial,
                "checksum_ok": frame.crc_ok,
                "extended": frame.extended,
                "length": len(frame.raw),
            }
            if self.drop_bad_checksum and frame.crc_ok is False:
                out.error(number, ProtocolError("bad CRC: dropped"), frame=info, dropped=True)
                continue
            try:
                message = gt06.decode(frame, tz=self.tz)
            except ProtocolError as error:
                out.error(number, error, frame=info)
                continue
            zone = message.timezone if isinstance(message, gt06.Gt06Login) else None
            if zone is not None and self.fixed_tz is None:
                self.tz = zone  # later frames are local to the zone the login reported
            response = gt06.encode_ack(message)
            out.emit(
                {
                    "line": number,
                    "frame": info,
                    "message": to_json(message),
                    "response": response.hex() if response is not None else None,
                }
            )
        if splitter.skipped_bytes or splitter.buffered:
            raise ProtocolError(
                f"{splitter.skipped_bytes} bytes skipped as garbage, "
                f"{splitter.buffered} bytes of an incomplete frame"
            )

    def finish(self, out: _Output) -> None:
        pass


class _Jt808:
    def __init__(
        self, tz: tzinfo | None, drop_bad_checksum: bool, auth_code: str | None, serial: int
    ) -> None:
        self.decoder = jt808.Jt808Decoder() if tz is None else jt808.Jt808Decoder(device_tz=tz)
        self.reassembler = jt808.Jt808Reassembler()
        self.drop_bad_checksum = drop_bad_checksum
        self.auth_code = auth_code
        self.serial = serial
        self.clock = 0.0

    @staticmethod
    def _frames(data: bytes) -> list[jt808.Jt808Frame | ProtocolError]:
        if data[:1] != b"\x7e":
            return [jt808.Jt808Frame.from_unescaped(data)]  # as Traccar's tests write them
        size = max(len(data) + 1, jt808.DEFAULT_MAX_FRAME_SIZE)
        splitter = jt808.Jt808FrameSplitter(size, keep_bad_checksum=True)
        # the extra 7E closes whatever follows the last frame, so it is judged too
        frames: list[jt808.Jt808Frame | ProtocolError] = list(splitter.feed(data + b"\x7e"))
        if not frames:
            raise ProtocolError("no JT/T 808 frame (7E ... 7E) found")
        if splitter.garbage_bytes:
            frames.append(ProtocolError(f"{splitter.garbage_bytes} bytes are not part of a frame"))
        return frames

    def _response(self, packet: jt808.Jt808Packet) -> str | None:
        needed = jt808.required_response(packet)
        if needed is None:
            return None
        auth = self.auth_code if self.auth_code is not None else packet.header.terminal_id
        encoded = jt808.encode_response(needed, self.serial, auth_code=auth)
        self.serial = (self.serial + 1) & 0xFFFF
        return encoded.hex()

    def line(self, number: int, data: bytes, out: _Output) -> None:
        for frame in self._frames(data):
            if isinstance(frame, ProtocolError):
                out.error(number, frame)
                continue
            info: dict[str, object] = {
                "checksum": f"0x{frame.checksum:02X}",
                "checksum_ok": frame.checksum_ok,
                "length": len(frame.content) + 1,
            }
            if self.drop_bad_checksum and not frame.checksum_ok:
                dropped = ProtocolError("bad check byte: dropped")
                out.error(number, dropped, frame=info, dropped=True)
                continue
            try:
                packet = self.decoder.decode(frame)
                header = packet.header
                info = {
                    "message_id": f"0x{header.msg_id:04X}",
                    "serial": header.serial,
                    **info,
                    "edition": header.edition,
                    "terminal_id": header.terminal_id,
                    "header": to_json(header),
                }
                obj: dict[str, object] = {"line": number, "frame": info}
                obj["message"] = to_json(packet.message)
                obj["response"] = self._response(packet)
                message = packet.message
                if isinstance(message, jt808.SubPackage):
                    self.clock += 1.0
                    whole = self.reassembler.add(header, message.data, now=self.clock)
                    if whole is None:
                        obj["reassembly"] = {"missing": list(self.reassembler.missing(header))}
                    else:
                        body = self.decoder.decode_body(whole.header, whole.body)
                        assembled = jt808.Jt808Packet(whole.header, body, packet.checksum_ok)
                        obj["reassembled"] = {
                            "message_id": f"0x{whole.header.msg_id:04X}",
                            "first_serial": whole.header.serial,
                            "length": len(whole.body),
                            "message": to_json(body),
                            "response": self._response(assembled),
                        }
            except ProtocolError as error:
                out.error(number, error, frame=info)
                continue
            out.emit(obj)

    def finish(self, out: _Output) -> None:
        for pending in self.reassembler.pending():
            out.emit(
                {
                    "incomplete": f"0x{pending.header.msg_id:04X}",
                    "first_serial": pending.first_serial,
                    "total": pending.total,
                    "missing": list(pending.missing),
                }
            )


# ---------------------------------------------------------------------------------------------
# command line


PROG = "python -m trackstream_protocols"


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser (help and errors) and the ``decode`` parser.

    ``decode`` is parsed on its own with ``parse_intermixed_args``, so options may come after
    the hex frames; argparse cannot do that through a sub-parser.
    """
    top = argparse.ArgumentParser(
        prog=PROG,
        description="Decode device frames (hex) and show what the platform would answer.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("decode", help="decode GT06 or JT/T 808 frames given as hex")
    decode = argparse.ArgumentParser(
        prog=f"{PROG} decode",
        description="Print one JSON object per frame: frame, decoded message, response hex.",
    )
    decode.add_argument("protocol", choices=PROTOCOLS)
    decode.add_argument("hex", nargs="*", help="hex frames (spaces inside a frame: quote it)")
    decode.add_argument(
        "--file", "-f", help="a file with one hex frame per line ('-' for stdin)", default=None
    )
    decode.add_argument(
        "--tz", help="device time zone: UTC, +08:00, -4, GMT+8 or an IANA name", default=None
    )
    decode.add_argument(
        "--drop-bad-checksum",
        action="store_true",
        help="treat frames with a wrong checksum as failed (the platform would drop them)",
    )
    decode.add_argument(
        "--auth-code", help="JT/T 808 register response auth code (default: terminal id)"
    )
    decode.add_argument(
        "--first-serial",
        type=int,
        default=0,
        help="JT/T 808 serial of the first platform response (then counting up; default 0)",
    )
    decode.add_argument("--pretty", action="store_true", help="indent the JSON")
    return top, decode


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    top, parser = _parsers()
    if arguments[:1] != ["decode"]:
        top.parse_args(arguments)  # prints the help or the usage error and exits
        return 2
    args = parser.parse_intermixed_args(arguments[1:])
    if bool(args.hex) == bool(args.file):
        parser.error("give hex frames or --file, not both and not neither")
    if not 0 <= args.first_serial <= 0xFFFF:
        parser.error("--first-serial must be 0..65535")
    try:
        tz = parse_tz(args.tz) if args.tz else None
    except ValueError as error:
        parser.error(str(error))
    decoder: _Gt06 | _Jt808
    if args.protocol == "gt06":
        decoder = _Gt06(tz, args.drop_bad_checksum)
    else:
        decoder = _Jt808(tz, args.drop_bad_checksum, args.auth_code, args.first_serial)
    out = _Output(sys.stdout, args.pretty)
    file: IO[str] | None = None
    try:
        if args.file == "-":
            file = sys.stdin
        elif args.file:
            try:
                file = open(args.file, encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError as error:
                parser.error(f"cannot read {args.file}: {error.strerror}")
        for number, text in _lines(args.hex, file):
            try:
                decoder.line(number, _hex(text), out)
            except ProtocolError as error:
                out.error(number, error)
        decoder.finish(out)
    finally:
        if file is not None and file is not sys.stdin:
            file.close()
    return 1 if out.failed else 0
