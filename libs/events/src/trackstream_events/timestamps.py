"""Aware datetimes to protobuf Timestamps, on the hot paths of every service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_timestamp(when: datetime) -> Timestamp:
    """A Timestamp of an aware datetime, at microsecond precision (several times cheaper than
    ``Timestamp.FromDatetime`` with the conversion to UTC it needs)."""
    micros = (when - _EPOCH) // _MICROSECOND
    return Timestamp(seconds=micros // 1_000_000, nanos=(micros % 1_000_000) * 1000)


def set_timestamp(target: Timestamp, when: datetime) -> None:
    """Set ``target`` (a Timestamp field of a message) to an aware datetime in place: the same
    value as :func:`to_timestamp` without building a message and copying it into the parent."""
    micros = (when - _EPOCH) // _MICROSECOND
    target.SetInParent()  # present even at the epoch, as a copied-in Timestamp would be
    target.seconds = micros // 1_000_000
    target.nanos = (micros % 1_000_000) * 1000
