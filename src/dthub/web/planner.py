"""What the trip planner page (出行规划) needs besides the planner itself: the GTFS feeds the hub can plan
over, a feed's stops for the map, and a service day the feed runs on.

Feeds are the ones `POST /api/v1/transit/plan` accepts: those landed in `transit.*`, read as the planner
reads them (its service identity `maas-planner`, `domains.transit.landed`: access-checked and audited); none
while it is not provisioned. Bike-share systems, its `bikeshare`: the GBFS systems landed in
`transit.bike_stations`, read the same way. The page posts its query to that same route; nothing is computed
here.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import pyarrow as pa

from dthub.domains.transit.datasets import CALENDAR, CALENDAR_DATES, GTFS_DATASETS, STOPS
from dthub.domains.transit.landed import (
    BIKE_DATASETS,
    PlannerUnavailable,
    landed_feeds,
    landed_systems,
    landed_version,
    planner,
    read_rows,
)
from dthub.domains.transit.landed import bike_stations as landed_bike_stations
from dthub.hub import query
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.identity import Consumer

STOP_LIMIT = 20_000
"""Most stops one map draws."""


def feeds(hub: Hub) -> list[str]:
    """Names of the GTFS feeds landed in the hub; none while the planner is not provisioned."""
    try:
        consumer = planner(hub)
    except PlannerUnavailable:
        return []
    return list(_feeds(hub, consumer, landed_version(hub, GTFS_DATASETS)))


@lru_cache(maxsize=2)
def _feeds(hub: Hub, consumer: Consumer, version: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(landed_feeds(hub, consumer))


def default_feed(names: list[str]) -> str | None:
    """The feed a planner page opens on: the demo city's (a name ending in `simulated`) when there is one,
    else the first by name."""
    simulated = [name for name in names if name.rsplit("/", 1)[-1].endswith("simulated")]
    found = simulated or names
    return found[0] if found else None


def _rows(hub: Hub, name: str, spec: DatasetSpec, fields: tuple[str, ...]) -> pa.Table | None:
    """The feed's rows of a dataset as the planner reads them; None when it is not a landed feed."""
    if name not in feeds(hub):
        return None
    in_feed = query.Filter(column="feed", op="eq", values=(name,))
    return read_rows(hub, planner(hub), spec, filters=(in_feed,), fields=fields)


def stops(hub: Hub, name: str) -> dict[str, Any] | None:
    """The landed feed's stops as GeoJSON points (properties: stop_id, name); None when it has not landed."""
    return _stops(hub, name, landed_version(hub, GTFS_DATASETS))


@lru_cache(maxsize=8)
def _stops(hub: Hub, name: str, version: tuple[int, ...]) -> dict[str, Any] | None:
    table = _rows(hub, name, STOPS, ("stop_id", "stop_name", "stop_lat", "stop_lon"))
    if table is None:
        return None
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["stop_lon"], row["stop_lat"]]},
            "properties": {"stop_id": row["stop_id"], "name": row["stop_name"]},
        }
        for row in table.to_pylist()
        if row["stop_lat"] is not None
        and row["stop_lon"] is not None
        and (row["stop_lat"], row["stop_lon"]) != (0.0, 0.0)
    ]
    return {"type": "FeatureCollection", "features": features[:STOP_LIMIT]}


def service_range(hub: Hub, name: str) -> tuple[date, date] | None:
    """First and last day of the landed feed's calendar (transit.calendar, else transit.calendar_dates)."""
    return _service_range(hub, name, landed_version(hub, GTFS_DATASETS))


@lru_cache(maxsize=8)
def _service_range(hub: Hub, name: str, version: tuple[int, ...]) -> tuple[date, date] | None:
    calendar = _rows(hub, name, CALENDAR, ("start_date", "end_date"))
    exceptions = _rows(hub, name, CALENDAR_DATES, ("date",))
    days: list[date] = []
    if calendar is not None:
        days += calendar["start_date"].drop_null().to_pylist() + calendar["end_date"].drop_null().to_pylist()
    if exceptions is not None:
        days += exceptions["date"].drop_null().to_pylist()
    return (min(days), max(days)) if days else None


def default_day(hub: Hub, name: str, today: date) -> date:
    """Today when the feed runs then, else the first weekday (Tuesday to Thursday) of its calendar."""
    found = service_range(hub, name)
    if found is None or found[0] <= today <= found[1]:
        return today
    day = found[0]
    while day.weekday() not in (1, 2, 3) and day < found[1]:
        day += timedelta(days=1)
    return day


def bikeshares(hub: Hub) -> list[str]:
    """Names of the bike-share systems landed in the hub; none while the planner is not provisioned."""
    try:
        consumer = planner(hub)
    except PlannerUnavailable:
        return []
    return list(_systems(hub, consumer, landed_version(hub, BIKE_DATASETS)))


@lru_cache(maxsize=2)
def _systems(hub: Hub, consumer: Consumer, version: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(landed_systems(hub, consumer))


def bike_stations(hub: Hub, name: str) -> dict[str, Any] | None:
    """The landed system's stations as GeoJSON points; None when `name` is not a landed system."""
    if name not in bikeshares(hub):
        return None
    return _stations(hub, name, landed_version(hub, BIKE_DATASETS))


@lru_cache(maxsize=4)
def _stations(hub: Hub, name: str, version: tuple[int, ...]) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [station.lon, station.lat]},
            "properties": {
                "station_id": station.station_id,
                "name": station.name,
                "capacity": station.capacity,
            },
        }
        for station in landed_bike_stations(hub, planner(hub), name)
    ]
    return {"type": "FeatureCollection", "features": features[:STOP_LIMIT]}
