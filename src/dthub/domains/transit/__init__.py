"""Public transport (公共交通): GTFS import and validation, service-day timetables, RAPTOR trip planning.

`MAAS` mounts the same planner at `/api/v1/maas` (出行即服务, the action plan's MaaS), with one code for
all modes (一码通乘): rider accounts, their taps (`maas.taps`) and charges (`transit.riders`).
"""

from __future__ import annotations

from dthub.domains.transit.api import maas_router, router
from dthub.domains.transit.datasets import GTFS_DATASETS, GTFS_FINDINGS
from dthub.domains.transit.gbfs_ingest import (
    BIKE_STATION_STATUS,
    BIKE_STATIONS,
    GbfsStations,
    GbfsStationStatus,
)
from dthub.domains.transit.ingest.gtfs import ADAPTERS as GTFS_ADAPTERS
from dthub.domains.transit.realtime_ingest import (
    STOP_TIME_UPDATES,
    VEHICLE_POSITIONS,
    CapMetricsPositions,
    GtfsRtTripUpdates,
    GtfsRtVehiclePositions,
)
from dthub.domains.transit.riders import TAPS, TapLines
from dthub.domains.transit.riders_api import maas_routes, riders_router
from dthub.hub.domain import Domain

REALTIME_DATASETS = (VEHICLE_POSITIONS, STOP_TIME_UPDATES, BIKE_STATIONS, BIKE_STATION_STATUS)
REALTIME_ADAPTERS = (
    GtfsRtVehiclePositions(),
    GtfsRtTripUpdates(),
    CapMetricsPositions(),
    GbfsStations(),
    GbfsStationStatus(),
)

DOMAIN = Domain(
    name="transit",
    title_zh="公共交通",
    title_en="Public transport",
    datasets=(
        *GTFS_DATASETS,
        GTFS_FINDINGS,
        *REALTIME_DATASETS,
    ),
    adapters=(*GTFS_ADAPTERS, *REALTIME_ADAPTERS),
    router=router,
)

MAAS = Domain(
    name="maas",
    title_zh="出行即服务",
    title_en="Mobility as a service",
    datasets=(TAPS,),
    adapters=(TapLines(),),
    router=maas_routes(maas_router, riders_router),
)
