"""In-process stream bus (消息总线) on asyncio, `memory://`: the embedded default.

Consumer groups behave as on Redis Streams; messages live as long as the bus, in memory, untrimmed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from dthub.hub.bus.base import (
    BusError,
    Delivery,
    Message,
    NoSuchGroup,
    check_limits,
    check_message,
)


@dataclass
class _Pending:
    consumer: str
    delivered_at: float  # time.monotonic()


@dataclass
class _Group:
    next_index: int = 0  # position in the stream of the first message the group has not seen
    pending: dict[str, _Pending] = field(default_factory=dict)  # by id, oldest first


@dataclass
class _Stream:
    entries: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # id -> index in entries
    groups: dict[str, _Group] = field(default_factory=dict)
    last_id: tuple[int, int] = (0, 0)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class MemoryBus:
    """A stream bus held in this process; each instance is a separate bus."""

    def __init__(self) -> None:
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    async def publish(self, stream: str, message: Message) -> str:
        """Append a message to a stream; return its id."""
        check_message(message)
        entries = self._stream(stream)
        last_ms, last_seq = entries.last_id
        ms, seq = max((time.time_ns() // 1_000_000, 0), (last_ms, last_seq + 1))
        entries.last_id = (ms, seq)
        message_id = f"{ms}-{seq}"
        entries.positions[message_id] = len(entries.entries)
        entries.entries.append((message_id, {k: _bytes(v) for k, v in message.items()}))
        entries.arrived.set()
        entries.arrived = asyncio.Event()
        return message_id

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create a consumer group that will see the whole stream, unless it exists."""
        self._stream(stream).groups.setdefault(group, _Group())

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[Delivery]:
        """Deliver up to count unseen messages, waiting up to block_ms for one."""
        check_limits(count=count, block_ms=block_ms)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        while True:
            entries, seen = self._group(stream, group)
            batch = entries.entries[seen.next_index : seen.next_index + count]
            if batch:
                seen.next_index += len(batch)
                now = time.monotonic()
                for message_id, _ in batch:
                    seen.pending[message_id] = _Pending(consumer, now)
                return [_delivery(stream, entry) for entry in batch]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(entries.arrived.wait(), remaining)
            except TimeoutError:
                return []

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        """Acknowledge messages; return how many were pending."""
        try:
            pending = self._group(stream, group)[1].pending
        except NoSuchGroup:
            return 0
        return sum(pending.pop(message_id, None) is not None for message_id in ids)

    async def pending(self, stream: str, group: str) -> int:
        """Number of messages delivered to the group and not acknowledged."""
        return len(self._group(stream, group)[1].pending)

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> list[Delivery]:
        """Take over up to count pending messages idle for min_idle_ms or more."""
        check_limits(count=count)
        entries, seen = self._group(stream, group)
        now = time.monotonic()
        claimed: list[Delivery] = []
        for message_id, holder in seen.pending.items():
            if len(claimed) == count:
                break
            if (now - holder.delivered_at) * 1000 >= min_idle_ms:
                holder.consumer, holder.delivered_at = consumer, now
                claimed.append(_delivery(stream, entries.entries[entries.positions[message_id]]))
        return claimed

    async def close(self) -> None:
        """Drop every stream; the bus refuses use afterwards."""
        self._streams.clear()
        self._closed = True

    def _stream(self, stream: str) -> _Stream:
        """The stream, created when missing."""
        if self._closed:
            raise BusError("the memory bus is closed")
        return self._streams.setdefault(stream, _Stream())

    def _group(self, stream: str, group: str) -> tuple[_Stream, _Group]:
        """The stream and its group, which must exist."""
        if self._closed:
            raise BusError("the memory bus is closed")
        entries = self._streams.get(stream)
        if entries is None or group not in entries.groups:
            raise NoSuchGroup(stream, group)
        return entries, entries.groups[group]


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _delivery(stream: str, entry: tuple[str, dict[str, bytes]]) -> Delivery:
    message_id, message = entry
    return Delivery(stream=stream, id=message_id, message=dict(message))
