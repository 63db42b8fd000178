"""The base of the hub's refusals: an error with a stable `reason` key and a `detail` for people."""

from __future__ import annotations


class Refusal(Exception):
    """Something the hub refuses; `reason` is a stable key the console and API translate."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"
