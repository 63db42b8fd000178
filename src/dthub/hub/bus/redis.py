"""Stream bus (消息总线) on Redis Streams, `redis://host:6379/0`: durable across process restarts.

XADD publishes, XGROUP CREATE … MKSTREAM makes a group, XREADGROUP `>` reads, XACK acknowledges,
XPENDING counts and XAUTOCLAIM takes over what a dead consumer left pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis.typing import EncodableT, FieldT

from dthub.hub.bus.base import Delivery, Message, NoSuchGroup, check_limits, check_message

_START = "0-0"


class RedisBus:
    """A stream bus on one Redis server; streams are Redis keys named as given."""

    def __init__(self, client: Redis, *, maxlen: int | None = None) -> None:
        """Use client (not decoding responses); maxlen caps each stream at about that many."""
        self._client = client
        self._maxlen = maxlen

    @classmethod
    def from_url(cls, url: str, *, maxlen: int | None = None) -> RedisBus:
        """A bus on the Redis server at url (`redis://` or `rediss://`)."""
        return cls(Redis.from_url(url, decode_responses=False), maxlen=maxlen)

    async def publish(self, stream: str, message: Message) -> str:
        """XADD the message; return its id once Redis holds it."""
        check_message(message)
        fields: dict[FieldT, EncodableT] = dict(message.items())
        message_id = await self._client.xadd(stream, fields, maxlen=self._maxlen, approximate=True)
        return _text(message_id)

    async def ensure_group(self, stream: str, group: str) -> None:
        """XGROUP CREATE from the first entry, making the stream; an existing group is kept."""
        try:
            await self._client.xgroup_create(stream, group, id="0", mkstream=True)
        except ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise

    async def read(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[Delivery]:
        """XREADGROUP `>`: up to count unseen messages, waiting up to block_ms for one."""
        check_limits(count=count, block_ms=block_ms)
        with _group_errors(stream, group):
            response = await self._client.xreadgroup(
                group, consumer, {stream: ">"}, count=count, block=block_ms or None
            )
        if not response:
            return []
        entries = next(iter(response.values())) if isinstance(response, dict) else response[0][1]
        return _deliveries(stream, entries)

    async def ack(self, stream: str, group: str, *ids: str) -> int:
        """XACK; return how many of ids were pending."""
        if not ids:
            return 0
        return int(await self._client.xack(stream, group, *ids))

    async def pending(self, stream: str, group: str) -> int:
        """The count of the XPENDING summary."""
        with _group_errors(stream, group):
            summary = await self._client.xpending(stream, group)
        return int(summary["pending"])

    async def claim_stale(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> list[Delivery]:
        """XAUTOCLAIM up to count pending messages idle for min_idle_ms or more."""
        check_limits(count=count)
        claimed: list[Delivery] = []
        start: bytes | str = _START
        while len(claimed) < count:
            with _group_errors(stream, group):
                start, entries, *_ = await self._client.xautoclaim(
                    stream, group, consumer, min_idle_ms, start_id=start, count=count - len(claimed)
                )
            claimed += _deliveries(stream, entries)
            if _text(start) == _START:
                break
        return claimed

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


@contextmanager
def _group_errors(stream: str, group: str) -> Iterator[None]:
    """Turn Redis' NOGROUP reply into NoSuchGroup."""
    try:
        yield
    except ResponseError as error:
        if str(error).startswith("NOGROUP"):
            raise NoSuchGroup(stream, group) from error
        raise


def _deliveries(stream: str, entries: list[Any]) -> list[Delivery]:
    """Deliveries from (id, fields) pairs; entries trimmed away (fields None) are left out."""
    return [
        Delivery(
            stream=stream,
            id=_text(message_id),
            message={_text(key): bytes(value) for key, value in fields.items()},
        )
        for message_id, fields in entries
        if fields is not None
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
