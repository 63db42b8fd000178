"""The HTTP API (接口): `create_app(settings)` serves one hub's catalog, health and domain routes."""

from __future__ import annotations

from dthub.api.app import create_app

__all__ = ["create_app"]
