"""The event loop of the gateway, the lake writer and the fleet simulator: uvloop (libuv).

The vehicles code only uses asyncio's API, so it runs on any loop; the entry points (`dthub vehicles
gateway`, `dthub simulate fleet`, the benchmarks) run it with `run`, on uvloop, whose sockets,
transports and callbacks cost a fraction of the default loop's per report (docs/benchmarks.md, JT/T 808
end to end).

`run` also collects garbage less often: these processes keep many objects for long (10,000 connections,
a rule state and a day of fixes per terminal) and allocate many short-lived ones per report (frames,
futures, fixes), so with the default thresholds (a young collection every 700 allocations, and the old
generations scanned again and again as the tracks grow) collecting took more CPU than decoding a batch.
Reference counting still frees nearly everything at once; the collector only finds cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")
GC_THRESHOLDS = (100_000, 50, 100)
"""Allocations before a young collection, and young (then middle) collections before an older one."""


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on a new uvloop event loop, with the collector's `GC_THRESHOLDS`."""
    gc.set_threshold(*GC_THRESHOLDS)
    return uvloop.run(main)
