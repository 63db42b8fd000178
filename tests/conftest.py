"""Shared fixtures: a fresh hub per test, real services started by the tests themselves."""

from __future__ import annotations

pytest_plugins = ("fixtures.services", "fixtures.hub", "fixtures.spark")
