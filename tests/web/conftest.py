"""The console fixture (`fixtures.console`) for the console's tests."""

from __future__ import annotations

from fixtures.console import console

__all__ = ["console"]
