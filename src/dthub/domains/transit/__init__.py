"""Public transport (公共交通): GTFS import and validation, service-day timetables, RAPTOR trip planning.

`MAAS` mounts the same planner at `/api/v1/maas` (出行即服务, the action plan's MaaS): a domain of routes
only, no datasets.
"""

from __future__ import annotations

from dthub.domains.transit.api import maas_router, router
from dthub.domains.transit.datasets import ROUTES, STOP_TIMES, STOPS, TRIPS
from dthub.hub.domain import Domain

DOMAIN = Domain(
    name="transit",
    title_zh="公共交通",
    title_en="Public transport",
    datasets=(STOPS, ROUTES, TRIPS, STOP_TIMES),
    router=router,
)

MAAS = Domain(
    name="maas", title_zh="出行即服务", title_en="Mobility as a service", datasets=(), router=maas_router
)
