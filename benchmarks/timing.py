"""What the benchmarks share: the median time of a few runs after a warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")

RUNS = 3
"""Timed runs after the warm-up; the median is reported."""


def timed(run: Callable[[], Result], *, runs: int = RUNS) -> tuple[float, Result]:
    """Median seconds of `runs` runs after one warm-up, and the last result."""
    result = run()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result
