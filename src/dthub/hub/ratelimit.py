"""Per-consumer rate limits (限流): a token bucket per key or person, refilled continuously.

A consumer may make `burst` requests at once and `per_minute` requests a minute on average; a request beyond
that is refused with the seconds to wait (HTTP 429 with `Retry-After`). The buckets live in the serving
process: with several API workers each enforces its own share.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets by consumer key; thread-safe."""

    def __init__(self, *, per_minute: int, burst: int) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError(f"per_minute and burst must be positive, got {per_minute} and {burst}")
        self.per_second = per_minute / 60
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float | None:
        """Spend one token of `key` at time `now` (seconds, monotonic); None when granted, else the
        seconds until a token is there."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(tokens=self.burst, at=now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.per_second


def retry_after_header(wait_s: float) -> str:
    """`Retry-After` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))
