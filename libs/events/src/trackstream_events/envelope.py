"""CloudEvents 1.0 attributes carried as Kafka headers (binary content mode).

The Kafka value is the protobuf bytes of the event alone; everything about the event travels in
headers: ``ce_specversion``, ``ce_id`` (UUIDv7), ``ce_source``, ``ce_type`` (the full protobuf
message name), ``ce_time`` (RFC 3339), ``ce_subject`` (the pseudonymous device or subject id, the
same as the Kafka key), ``ce_dataschema``, ``content-type``, W3C ``traceparent``/``tracestate``,
and ``ce_correlationid``/``ce_causationid``.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/x-protobuf"

Headers = list[tuple[str, bytes]]


class InvalidEnvelope(ValueError):
    """Headers that are not a valid event envelope; the message names the missing attribute."""


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit Unix milliseconds, then random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


@dataclass(frozen=True, slots=True)
class Envelope:
    """What every event says about itself, apart from its data."""

    type: str
    source: str
    subject: str
    id: str = field(default_factory=uuid7)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None
    tracestate: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def dataschema(self) -> str:
        return f"proto:{self.type}"

    def caused(self, *, type: str, source: str, subject: str | None = None) -> Envelope:
        """The envelope of an event caused by this one: same correlation, causation = this id."""
        return Envelope(
            type=type,
            source=source,
            subject=self.subject if subject is None else subject,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
            correlation_id=self.correlation_id or self.id,
            causation_id=self.id,
        )

    def with_trace(self, traceparent: str | None, tracestate: str | None = None) -> Envelope:
        return replace(self, traceparent=traceparent, tracestate=tracestate)

    def to_headers(self) -> Headers:
        headers: Headers = [
            ("ce_id", self.id.encode()),
            ("ce_time", _rfc3339(self.time).encode()),
            ("ce_subject", self.subject.encode()),
        ]
        headers += _constant_headers(self.type, self.source)
        # the optional attributes, in this order, only when set (once per event: no dict)
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        if self.tracestate:
            headers.append(("tracestate", self.tracestate.encode()))
        if self.correlation_id:
            headers.append(("ce_correlationid", self.correlation_id.encode()))
        if self.causation_id:
            headers.append(("ce_causationid", self.causation_id.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes]] | None) -> Envelope:
        # once per consumed event: one dict, and only the attributes read are decoded
        values = dict(headers or ())
        try:
            id_ = values["ce_id"]
            source = values["ce_source"]
            type_ = values["ce_type"]
            time_ = values["ce_time"].decode("utf-8", "replace")
            subject = values["ce_subject"]
        except KeyError:
            missing = [k for k in _REQUIRED if k not in values]
            raise InvalidEnvelope(f"event headers lack {', '.join(missing)}") from None
        version = values.get("ce_specversion", _SPEC_VERSION_BYTES)
        if version != _SPEC_VERSION_BYTES:
            raise InvalidEnvelope(f"unsupported ce_specversion {_text(version)!r}")
        try:  # RFC 3339, "Z" included (Python 3.11)
            when = datetime.fromisoformat(time_)
        except ValueError:
            raise InvalidEnvelope(f"ce_time is not RFC 3339: {time_!r}") from None
        traceparent = values.get("traceparent")
        tracestate = values.get("tracestate")
        correlation_id = values.get("ce_correlationid")
        causation_id = values.get("ce_causationid")
        return cls(
            type_.decode("utf-8", "replace"),
            source.decode("utf-8", "replace"),
            subject.decode("utf-8", "replace"),
            id_.decode("utf-8", "replace"),
            when,
            None if traceparent is None else _text(traceparent),
            None if tracestate is None else _text(tracestate),
            None if correlation_id is None else _text(correlation_id),
            None if causation_id is None else _text(causation_id),
        )


_REQUIRED = ("ce_id", "ce_source", "ce_type", "ce_time", "ce_subject")
_SPEC_VERSION_BYTES = SPEC_VERSION.encode()


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


@functools.lru_cache(maxsize=1024)
def _constant_headers(type_: str, source: str) -> Headers:
    """The headers every event of one type from one source shares, encoded once."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_source", source.encode()),
        ("ce_type", type_.encode()),
        ("ce_dataschema", f"proto:{type_}".encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]


#: the last time formatted, and its text (compared by identity: one datetime object per call)
_last_rfc3339: tuple[datetime | None, str] = (None, "")


def _rfc3339(when: datetime) -> str:
    global _last_rfc3339
    last_when, last_text = _last_rfc3339
    if when is last_when:  # the events of one publishing call share their time
        return last_text
    if when.tzinfo is UTC:  # the usual case: isoformat ends in "+00:00"
        text = when.isoformat(timespec="microseconds")[:-6] + "Z"
        _last_rfc3339 = (when, text)
        return text
    if when.tzinfo is None:
        raise InvalidEnvelope("event time must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
