"""Stub of the C extension (csrc/native.c); see :mod:`trackstream_protocols.native`."""

from collections.abc import Callable
from datetime import tzinfo
from typing import Any

ABI_VERSION: int

def crc16_x25(data: bytes, /) -> int: ...
def gt06_bind(
    frame: type, location: type, fix: type, cell: type, decode: Callable[..., object], /
) -> None: ...
def gt06_scan(
    data: bytes, max_frame_size: int, drop_bad_crc: bool, frames: list[Any], /
) -> tuple[int, int, int]: ...

# typed where it is used (gt06/decoder.py), as the Python decode it stands in for
gt06_decode: Callable[..., object]

def jt808_bind(
    frame: type,
    header: type,
    packet: type,
    location: type,
    additional_info: type,
    fix: type,
    vendor_item: Callable[[int, bytes, dict[str, object], list[str]], bool],
    /,
) -> None: ...
def jt808_split(
    data: bytes, offset: int, max_frame_size: int, keep_bad_checksum: bool, frames: list[Any], /
) -> tuple[int, int, int, int]: ...
def jt808_decode(
    frame: object,
    device_tz: tzinfo,
    strict_body_length: bool,
    jimi_extensions: bool,
    strict_additional_items: bool,
    /,
) -> object | None: ...
