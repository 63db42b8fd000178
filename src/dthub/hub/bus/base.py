"""The stream bus (消息总线) contract: the `Bus` protocol, a `Delivery`, and the bus errors.

Delivery is at least once: a consumer group sees every message of a stream once, a message read by a
consumer stays pending until acknowledged, and a pending message another consumer left idle can be
claimed (what a restarted worker does). Handlers must therefore tolerate a message twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

Message = Mapping[str, str | bytes]
"""Fields of a message as published: text is sent as UTF-8."""


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One message as a consumer receives it."""

    stream: str
    id: str  # "<ms>-<seq>", increasing within a stream
    message: dict[str, bytes]


class BusError(Exception):
    """Base of the errors a bus raises."""


class NoSuchGroup(BusError):
    """A consumer group that `ensure_group` never created (or its stream) was read or inspected."""

    def __init__(self, stream: str, group: str) -> None:
        super().__init__(f"no consumer group {group!r} on stream {stream!r}; call ensure_group first")
        self.stream, self.group = stream, group

    def __repr__(self) -> str:
        return f"NoSuchGroup(stream={self.stream!r}, group={self.group!r})"


def check_limits(*, count: int, block_ms: int = 0) -> None:
    """Refuse a count below 1 or a negative wait, naming the argument."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if block_ms < 0:
        raise ValueError(f"block_ms must not be negative, got {block_ms}")


def check_message(message: Message) -> None:
    """Refuse a message without fields: a stream entry needs at least one."""
    if not message:
        raise ValueError("a message needs at least one field")


class Bus(Protocol):
    """An asyncio stream bus with consumer groups and acknowledgement."""

    async def publish(self, stream: str, message: Message) -> str:
        """Append a message (one field or more) to a stream; return its id once the bus holds it."""
        ...

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create a consumer group (and the stream) unless it exists; it sees the whole stream."""
        ...

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[Delivery]:
        """Deliver up to count messages no consumer of the group has seen, oldest first.

        Waits up to block_ms for one to arrive when there is none (0: return at once). Delivered
        messages stay pending for this consumer until acknowledged.
        """
        ...

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        """Acknowledge delivered messages; return how many were pending."""
        ...

    async def pending(self, stream: str, group: str) -> int:
        """Number of messages delivered to the group but not yet acknowledged."""
        ...

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> list[Delivery]:
        """Take over up to count pending messages idle for min_idle_ms or more, oldest first."""
        ...

    async def close(self) -> None:
        """Release the connection; the bus is unusable afterwards."""
        ...
