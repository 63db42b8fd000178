"""Catalog entries of the transit domain: GTFS agencies, stops, routes, trips, stop times, service calendars
and transfers, ids namespaced by feed (`<feed>:<id>`) so that ids colliding across feeds stay apart, and the
validation findings of each feed version landed (`transit.ingest.gtfs`)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from dthub.domains.transit.gtfs import WEEKDAYS
from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, Rule, in_range, one_of

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
        rules=RULES.get(id, ()),
    )


def known_zone(name: str | None) -> bool | None:
    """Whether `name` is an IANA time zone (None when empty)."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _zones(column: str) -> Rule:
    """`column` is empty or an IANA time zone (the canonical validator's `invalid_timezone`)."""
    return Rule(
        name=f"{column}_known",
        description=f"{column} is empty or an IANA time zone, e.g. Asia/Shanghai",
        columns=(column,),
        check=lambda rows: pa.array([known_zone(z) for z in rows[column].to_pylist()], pa.bool_()),
    )


RULES = {
    "transit.agencies": (_zones("timezone"),),
    "transit.stops": (in_range("stop_lat", -90, 90), in_range("stop_lon", -180, 180)),
    "transit.calendar_dates": (in_range("exception_type", 1, 2),),
    "transit.gtfs_findings": (one_of("severity", ("ERROR", "WARNING", "INFO")),),
    "transit.transfers": (in_range("transfer_type", 0, 5), in_range("min_transfer_time", 0, 86_400)),
}


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
        _field("location_type", pa.int32(), "0 stop or platform (站台), 1 station (车站), 2 entrance"),
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
        _field("agency_id", pa.string(), "Operator (运营单位) of the feed's agency.txt"),
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
        _field("direction_id", pa.int32(), "0 or 1 (上行/下行 as the feed defines them)"),
        _field("shape_id", pa.string(), "`<feed>:<shape_id>`"),
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
        _field(
            "shape_dist_traveled",
            pa.float64(),
            "Distance along the shape, feed units; interpolates blank times between timepoints",
        ),
        _field("timepoint", pa.int32(), "1 exact time, 0 approximate; blank times are interpolated"),
    ],
    ("trip_id", "stop_sequence"),
)
CALENDAR = _spec(
    "transit.calendar",
    "运营日历",
    "Service calendar",
    "GTFS calendar.txt of every feed: weekdays a service runs between two dates.",
    [
        _field("service_id", pa.string(), "`<feed>:<service_id>`", nullable=False),
        _field("feed", pa.string(), "Feed the service comes from", nullable=False),
        *(_field(day, pa.bool_(), f"Runs on {day}s") for day in WEEKDAYS),
        _field("start_date", pa.date32(), "First day"),
        _field("end_date", pa.date32(), "Last day"),
    ],
    ("service_id",),
)
CALENDAR_DATES = _spec(
    "transit.calendar_dates",
    "运营日历例外",
    "Service exceptions",
    "GTFS calendar_dates.txt of every feed: a service added (1) or removed (2) on one date.",
    [
        _field("service_id", pa.string(), "`<feed>:<service_id>`", nullable=False),
        _field("feed", pa.string(), "Feed the service comes from", nullable=False),
        _field("date", pa.date32(), "Service date", nullable=False),
        _field("exception_type", pa.int32(), "1 added, 2 removed"),
    ],
    ("service_id", "date"),
)
AGENCIES = _spec(
    "transit.agencies",
    "运营单位",
    "Transit agencies",
    "GTFS agency.txt of every feed: the operators, and the time zone (时区) the feed's times are in.",
    [
        _field("agency_id", pa.string(), "`<feed>:<agency_id>`, `<feed>:` if left blank", nullable=False),
        _field("feed", pa.string(), "Feed the agency comes from", nullable=False),
        _field("name", pa.string(), "agency_name"),
        _field("url", pa.string(), "agency_url"),
        _field("timezone", pa.string(), "agency_timezone, IANA (e.g. Asia/Shanghai)"),
        _field("lang", pa.string(), "agency_lang"),
        _field("phone", pa.string(), "agency_phone"),
    ],
    ("agency_id",),
)
TRANSFERS = _spec(
    "transit.transfers",
    "换乘规则",
    "Transit transfers",
    "GTFS transfers.txt of every feed: how riders may change between stops, routes or trips (换乘), "
    "with the minimum transfer time where the feed asks one.",
    [
        _field("from_stop_id", pa.string(), "`<feed>:<stop_id>` (stop or station) the rider leaves"),
        _field("to_stop_id", pa.string(), "`<feed>:<stop_id>` the rider boards at"),
        _field("from_route_id", pa.string(), "`<feed>:<route_id>`, when the rule is for one route"),
        _field("to_route_id", pa.string(), "`<feed>:<route_id>`, when the rule is for one route"),
        _field("from_trip_id", pa.string(), "`<feed>:<trip_id>`, when the rule is for one trip"),
        _field("to_trip_id", pa.string(), "`<feed>:<trip_id>`, when the rule is for one trip"),
        _field(
            "transfer_type",
            pa.int32(),
            "0 recommended, 1 timed, 2 minimum time, 3 not possible, 4 in-seat, 5 re-board",
            nullable=False,
        ),
        _field("min_transfer_time", pa.int32(), "Seconds a type-2 transfer needs"),
        _field("feed", pa.string(), "Feed the transfer comes from", nullable=False),
    ],
    ("from_stop_id", "to_stop_id", "from_trip_id", "to_trip_id", "from_route_id", "to_route_id"),
)
GTFS_FINDINGS = _spec(
    "transit.gtfs_findings",
    "数据质量问题",
    "GTFS validation findings",
    "Every finding of the validator on each feed version ingested: notice code as the canonical GTFS "
    "validator names it, severity, and where (file, 1-based data row, field).",
    [
        _field("feed", pa.string(), "Feed validated", nullable=False),
        _field("feed_version", pa.string(), "First 16 hex digits of the SHA-256 of the feed", nullable=False),
        _field("number", pa.int32(), "Order of the finding in the report", nullable=False),
        _field("code", pa.string(), "Notice code, e.g. foreign_key_violation", nullable=False),
        _field("severity", pa.string(), "ERROR, WARNING or INFO", nullable=False),
        _field("file", pa.string(), "GTFS file", nullable=False),
        _field("row", pa.int64(), "1-based data row (header is row 0); empty for the whole file"),
        _field("field", pa.string(), "Column"),
        _field("detail", pa.string(), "What is wrong"),
    ],
    ("feed_version", "number"),
)

GTFS_DATASETS: tuple[DatasetSpec, ...] = (
    AGENCIES,
    STOPS,
    ROUTES,
    TRIPS,
    STOP_TIMES,
    CALENDAR,
    CALENDAR_DATES,
    TRANSFERS,
)
"""The files of a GTFS feed as datasets (`gtfs.*` adapters land them; the trip planner reads them)."""
