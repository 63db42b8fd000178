"""Catalog entries of the transit domain: GTFS stops, routes, trips and stop times, ids namespaced by feed
(`<feed>:<id>`) so that ids colliding across feeds stay apart."""

from __future__ import annotations

import pyarrow as pa

from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, in_range

OWNER = "市交通运输委 公共交通处 (public transport division)"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _spec(
    id: str, zh: str, en: str, description: str, fields: list[pa.Field], key: tuple[str, ...]
) -> DatasetSpec:
    return DatasetSpec(
        id=id,
        title_zh=zh,
        title_en=en,
        description=description,
        schema=pa.schema(fields),
        primary_key=key,
        time_column=None,
        owner=OWNER,
        update_frequency="irregular",
        retention_days=None,
        level=Level.GENERAL_1,
        point_columns=("stop_lon", "stop_lat") if "stop_lat" in [f.name for f in fields] else None,
        rules=(in_range("stop_lat", -90, 90), in_range("stop_lon", -180, 180))
        if id == "transit.stops"
        else (),
    )


STOPS = _spec(
    "transit.stops",
    "公交站点",
    "Transit stops",
    "GTFS stops.txt of every feed: stops, platforms and stations, WGS-84.",
    [
        _field("stop_id", pa.string(), "`<feed>:<stop_id>`", nullable=False),
        _field("feed", pa.string(), "Feed the stop comes from", nullable=False),
        _field("stop_name", pa.string(), "Name"),
        _field("stop_lat", pa.float64(), "Latitude, WGS-84"),
        _field("stop_lon", pa.float64(), "Longitude, WGS-84"),
        _field("parent_station", pa.string(), "`<feed>:<stop_id>` of its station, if any"),
    ],
    ("stop_id",),
)
ROUTES = _spec(
    "transit.routes",
    "公交线路",
    "Transit routes",
    "GTFS routes.txt of every feed.",
    [
        _field("route_id", pa.string(), "`<feed>:<route_id>`", nullable=False),
        _field("feed", pa.string(), "Feed the route comes from", nullable=False),
        _field("route_short_name", pa.string(), "Short name (line number)"),
        _field("route_long_name", pa.string(), "Long name"),
        _field("route_type", pa.int32(), "GTFS route type (0 tram, 1 metro, 2 rail, 3 bus ...)"),
    ],
    ("route_id",),
)
TRIPS = _spec(
    "transit.trips",
    "公交车次",
    "Transit trips",
    "GTFS trips.txt of every feed.",
    [
        _field("trip_id", pa.string(), "`<feed>:<trip_id>`", nullable=False),
        _field("feed", pa.string(), "Feed the trip comes from", nullable=False),
        _field("route_id", pa.string(), "`<feed>:<route_id>`", nullable=False),
        _field("service_id", pa.string(), "`<feed>:<service_id>`", nullable=False),
        _field("trip_headsign", pa.string(), "Headsign"),
    ],
    ("trip_id",),
)
STOP_TIMES = _spec(
    "transit.stop_times",
    "公交时刻表",
    "Transit stop times",
    "GTFS stop_times.txt of every feed; times in seconds after midnight of the service day (may pass 24 h).",
    [
        _field("trip_id", pa.string(), "`<feed>:<trip_id>`", nullable=False),
        _field("stop_sequence", pa.int32(), "Order along the trip", nullable=False),
        _field("stop_id", pa.string(), "`<feed>:<stop_id>`", nullable=False),
        _field("arrival_s", pa.int32(), "Arrival, seconds after midnight"),
        _field("departure_s", pa.int32(), "Departure, seconds after midnight"),
    ],
    ("trip_id", "stop_sequence"),
)
