"""Reading protobuf fields that have presence (``optional`` scalars, messages)."""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message


def present(message: Message, name: str) -> Any:
    """The field's value when it is set, else None (rather than the type's zero value)."""
    return getattr(message, name) if message.HasField(name) else None
