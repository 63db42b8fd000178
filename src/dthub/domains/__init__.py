"""Domains of the hub, one package per system of the action plan, each with the same shape.

`DOMAINS` is the explicit list the CLI, the API and the demo serve; a new domain is added here.
"""

from __future__ import annotations

from dthub.domains import roads, transit, vehicles
from dthub.hub.domain import Domain, Registry

DOMAINS: tuple[Domain, ...] = (roads.DOMAIN, vehicles.DOMAIN, transit.DOMAIN, transit.MAAS)


def registry() -> Registry:
    return Registry(DOMAINS)
