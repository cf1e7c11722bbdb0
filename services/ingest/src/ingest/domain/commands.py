"""Commands waiting for their device, and the correlation of replies to commands. Pure."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str
    device_id: str
    kind: int  # trackstream.tracking.v1.CommandKind
    text: str
    parameters: dict[str, str]
    expires_at: datetime


@dataclass
class CommandBook:
    """Holds commands for offline devices until they connect or expire, and remembers which
    command each on-the-wire correlation (server flag, downlink serial) belongs to."""

    max_held_per_device: int = 100
    #: how many settled ids and open correlations are remembered (oldest forgotten first)
    memory: int = 100_000
    _held: dict[str, OrderedDict[str, Command]] = field(default_factory=dict)
    _sent: OrderedDict[tuple[str, int], str] = field(default_factory=OrderedDict)
    _settled: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def hold(self, command: Command) -> bool:
        """Queue a command; False if it was settled already (delivered by another instance)."""
        if command.command_id in self._settled:
            return False
        queue = self._held.setdefault(command.device_id, OrderedDict())
        queue[command.command_id] = command
        while len(queue) > self.max_held_per_device:
            queue.popitem(last=False)
        return True

    def due_for(self, device_id: str, now: datetime) -> list[Command]:
        """The device's unexpired commands in the order they were requested (removed)."""
        queue = self._held.pop(device_id, OrderedDict())
        return [c for c in queue.values() if c.expires_at > now]

    def expire(self, now: datetime) -> list[Command]:
        expired = []
        for device_id in list(self._held):
            queue = self._held[device_id]
            for command_id in [k for k, c in queue.items() if c.expires_at <= now]:
                expired.append(queue.pop(command_id))
            if not queue:
                del self._held[device_id]
        return expired

    def settle(self, command_id: str) -> None:
        """Delivered or failed (here or elsewhere): never deliver it again."""
        self._settled[command_id] = None
        while len(self._settled) > self.memory:
            self._settled.popitem(last=False)
        for queue in self._held.values():
            queue.pop(command_id, None)

    def sent(self, device_id: str, correlation: int, command_id: str) -> None:
        self._sent[(device_id, correlation)] = command_id
        while len(self._sent) > self.memory:
            self._sent.popitem(last=False)
        self.settle(command_id)

    def reply_to(self, device_id: str, correlation: int) -> str | None:
        return self._sent.pop((device_id, correlation), None)

    def held_count(self) -> int:
        return sum(len(q) for q in self._held.values())
