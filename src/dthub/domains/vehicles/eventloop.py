"""The event loop of the gateway, the lake writer and the fleet simulator: uvloop (libuv).

The vehicles code only uses asyncio's API, so it runs on any loop; the entry points (`dthub vehicles
gateway`, `dthub simulate fleet`, the benchmarks) run it on uvloop, whose sockets, transports and
callbacks cost a fraction of the default loop's per report (docs/benchmarks.md, JT/T 808 end to end).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a new uvloop event loop."""
    return uvloop.run(main)
