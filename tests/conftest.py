"""Shared fixtures: a fresh hub per test, real services started by the tests themselves."""

from __future__ import annotations

from hypothesis import settings

pytest_plugins = ("fixtures.services", "fixtures.hub", "fixtures.spark")

# Tests check behaviour, benchmarks check speed: Hypothesis's per-example deadline is a timing assert, and
# on a loaded 2-core machine a first example (regex compilation, imports) can pass it by far.
settings.register_profile("dthub", deadline=None)
settings.load_profile("dthub")
