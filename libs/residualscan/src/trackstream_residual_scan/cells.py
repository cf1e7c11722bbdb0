"""Cassandra cells as the bytes an identifier could take in them.

The driver hands over decoded values; each becomes the byte forms a stored identifier would
have: text as UTF-8, a blob as it is, a ``uuid``/``timeuuid`` as its 16 raw bytes and its text,
numbers as their decimal text (an IMEI kept in a ``bigint``), an ``inet`` as its text; lists,
sets, maps (keys and values), tuples and user-defined types element by element. Booleans, dates,
times and durations cannot spell an identifier and give nothing.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address

from cassandra.util import Date, Duration, SortedSet, Time

_NOTHING = (bool, datetime.date, datetime.time, datetime.timedelta, Date, Time, Duration)


def cell_forms(value: object) -> Iterator[bytes]:
    if value is None or isinstance(value, _NOTHING):
        return
    if isinstance(value, str):
        yield value.encode()
    elif isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value)
    elif isinstance(value, uuid.UUID):
        yield value.bytes
        yield str(value).encode()
    elif isinstance(value, int | float | Decimal | IPv4Address | IPv6Address):
        yield str(value).encode()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from cell_forms(key)
            yield from cell_forms(item)
    elif isinstance(value, list | tuple | set | frozenset | SortedSet):
        for item in value:
            yield from cell_forms(item)
    elif hasattr(value, "__dict__"):  # a user-defined type registered as a class
        for item in vars(value).values():
            yield from cell_forms(item)
    else:
        yield str(value).encode()
