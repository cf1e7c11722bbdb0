"""Commands clients may send, checked the way ingest will encode them, and what became of them."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from trackstream.tracking.v1 import command_pb2

KINDS: dict[str, int] = {
    "engine_stop": command_pb2.COMMAND_KIND_ENGINE_STOP,
    "engine_resume": command_pb2.COMMAND_KIND_ENGINE_RESUME,
    "custom_text": command_pb2.COMMAND_KIND_CUSTOM_TEXT,
    "terminal_control": command_pb2.COMMAND_KIND_TERMINAL_CONTROL,
    "set_parameters": command_pb2.COMMAND_KIND_SET_PARAMETERS,
    "take_photo": command_pb2.COMMAND_KIND_TAKE_PHOTO,
}
STATUSES: dict[int, str] = {
    command_pb2.COMMAND_STATUS_DELIVERED: "delivered",
    command_pb2.COMMAND_STATUS_REPLIED: "replied",
    command_pb2.COMMAND_STATUS_FAILED: "failed",
    command_pb2.COMMAND_STATUS_EXPIRED: "expired",
    command_pb2.COMMAND_STATUS_QUEUED: "queued",
}
#: later statuses win over earlier ones whatever order they arrive in
_RANK = {"pending": 0, "queued": 1, "delivered": 2, "replied": 3, "failed": 3, "expired": 3}


class BadCommand(ValueError):
    pass


def _integer(text: str, what: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise BadCommand(f"{what} must be an integer, got {text!r}") from None


def check_command(kind: str, text: str, parameters: dict[str, str]) -> int:
    """The proto kind, when ingest can encode this command; BadCommand otherwise."""
    if kind not in KINDS:
        raise BadCommand(f"kind must be one of {', '.join(KINDS)}")
    if kind == "custom_text" and not text.strip():
        raise BadCommand("custom_text needs a non-empty text")
    if len(text) > 512:
        raise BadCommand("text is at most 512 characters")
    if kind == "terminal_control":
        _integer(parameters.get("command", "0"), "parameters.command")
    if kind == "set_parameters":
        if not parameters:
            raise BadCommand("set_parameters needs at least one parameter")
        for key in parameters:
            _integer(key, "a parameter id")
    if kind == "take_photo":
        _integer(parameters.get("channel", "1"), "parameters.channel")
        _integer(parameters.get("count", "1"), "parameters.count")
    return KINDS[kind]


@dataclass(frozen=True, slots=True)
class CommandState:
    command_id: str
    device_id: str
    status: str
    updated_at: datetime
    detail: str = ""
    reply_text: str = ""


class CommandBook:
    """The newest state of recent commands, bounded: the oldest are forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._states: OrderedDict[str, CommandState] = OrderedDict()

    def get(self, command_id: str) -> CommandState | None:
        return self._states.get(command_id)

    def __len__(self) -> int:
        return len(self._states)

    def record(self, state: CommandState) -> None:
        old = self._states.get(state.command_id)
        if old is not None:
            if _RANK.get(state.status, 0) < _RANK.get(old.status, 0):
                return
            if state.status == "pending":
                return
            state = replace(state, device_id=state.device_id or old.device_id)
            self._states.move_to_end(state.command_id)
        self._states[state.command_id] = state
        while len(self._states) > self._capacity:
            self._states.popitem(last=False)
