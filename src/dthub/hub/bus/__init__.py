"""The stream bus (消息总线): `connect_bus(settings.bus_url)` picks in-process or Redis Streams."""

from __future__ import annotations

from urllib.parse import urlsplit

from dthub.hub.bus.base import Bus, BusError, Delivery, Message, NoSuchGroup
from dthub.hub.bus.memory import MemoryBus
from dthub.hub.bus.redis import RedisBus

__all__ = [
    "Bus",
    "BusError",
    "Delivery",
    "MemoryBus",
    "Message",
    "NoSuchGroup",
    "RedisBus",
    "connect_bus",
]


def connect_bus(url: str) -> Bus:
    """The bus at url: `memory://` (a new in-process bus), `redis://` or `rediss://` (Redis)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBus()
    if scheme in ("redis", "rediss"):
        return RedisBus.from_url(url)
    raise ValueError(f"unknown bus scheme {scheme!r}: use memory://, redis:// or rediss://")
