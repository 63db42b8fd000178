"""AVL operations analytics over HTTP, mounted at `/api/v1/transit/avl`: on-time performance, headway
regularity and transfer connections of one service day of one realtime source.

The positions are read from `transit.vehicle_positions` through `hub.access` (grant, clearance, masking)
and the read is audited; the scheduled stop patterns come from the source's timetable extract under
`<DTHUB_REALDATA>` (`AVL_SOURCES`). Capital Metro's extract covers 2016-08-21 to 2017-01-21 and lists
each trip once for all day types, while the positions are of 2017-04-18: every answer names the timetable
it is measured against (`schedule_period`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Query
from pydantic import Field

from dthub.domains.transit import avl
from dthub.domains.transit.gbfs import read_station_information, read_station_status
from dthub.domains.transit.realtime_ingest import VEHICLE_POSITIONS
from dthub.hub import access, query
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer
from dthub.hub.web import INVALID_PARAMETERS, UNAUTHORISED, ApiProblem, ConsumerDep, HubDep, Model, answers

avl_router = APIRouter()

MAX_FIXES = 5_000_000
"""Most fixes one analysis reads (a city day)."""
FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2100, 12, 31)
"""Service dates an analysis accepts."""


@dataclass(frozen=True)
class AvlSource:
    """A realtime source of `transit.vehicle_positions` and the timetable extract it is measured against."""

    folder: str
    """Under `<DTHUB_REALDATA>`."""
    stops: str
    schedule: str
    timezone: str
    schedule_period: str
    rail_routes: frozenset[str]
    bikeshare: str | None = None
    """GBFS system under `<DTHUB_REALDATA>/bikeshare/` of the same city, for bike connections."""


AVL_SOURCES = {
    "capmetro": AvlSource(
        folder="transit_avl/capmetro_austin",
        stops="stops_20160821_20170121.csv.gz",
        schedule="schedule_20160821_20170121.csv.gz",
        timezone="America/Chicago",
        schedule_period="2016-08-21/2017-01-21 (all day types in one extract)",
        rail_routes=frozenset({"550"}),
        bikeshare=None,  # Austin B-cycle's GBFS is not in the shared data
    )
}

Source = Annotated[str, Query(pattern="^[a-z0-9_]+$", description="Realtime source, e.g. `capmetro`.")]
Day = Annotated[date, Query(description="Service date, YYYY-MM-DD (local to the source).")]
FORBIDDEN = "No grant on transit.vehicle_positions, or a clearance below its level; `error` is the reason."
NOT_FOUND = "An unknown source, or its timetable is not under `<DTHUB_REALDATA>`; `error` is `avl.not_found`."


class Coverage(Model):
    source: str
    service_date: date
    schedule_period: str = Field(description="The timetable the positions are measured against.")
    fixes: int = Field(description="Fixes read (audited read of transit.vehicle_positions).")
    traces: int = Field(description="Vehicle-trip traces with stop passages.")
    unmatched: dict[str, int] = Field(
        description="Traces left out, by reason: too_few_fixes, no_pattern, no_scheduled_trip_near."
    )


class RouteOnTime(Model):
    route: str
    passages: int
    early: float = Field(description="Share of passages more than `early_s` before schedule.")
    on_time: float
    late: float = Field(description="Share of passages more than `late_s` after schedule.")
    median_deviation_s: float = Field(description="Median of observed - scheduled, s.")


class OnTimeAnswer(Model):
    coverage: Coverage
    early_s: int
    late_s: int
    overall: RouteOnTime = Field(description="All routes together (`route` is `*`).")
    routes: list[RouteOnTime]


class StopHeadway(Model):
    route: str
    stop_id: str
    passages: int
    mean_headway_s: float
    cv: float = Field(description="Coefficient of variation of the headways (0: evenly spaced).")
    wait_s: float = Field(description="Average wait of a rider arriving at random, sum h² / 2 sum h.")
    excess_wait_s: float = Field(
        description="wait_s minus the scheduled wait (EWT), or minus half the mean headway when the "
        "stop has fewer than 3 scheduled passages in the window."
    )
    scheduled_wait_s: float | None


class HeadwayAnswer(Model):
    coverage: Coverage
    start: str
    end: str
    median_cv: float | None
    median_excess_wait_s: float | None
    stops: list[StopHeadway]


class ModeTransfers(Model):
    modes: str = Field(description="`BUS->BUS`, `BUS->RAIL`, `RAIL->BUS` ...")
    connections: int = Field(description="Scheduled connections whose two trips were observed.")
    made: float = Field(description="Share made: observed departure no earlier than arrival + walk.")


class BikeTransfers(Model):
    system: str
    arrivals: int = Field(description="Observed arrivals at stops with a bike-share station within walk_m.")
    made: float | None = Field(description="Share of those that found a bike (status known); null if none.")
    unknown: int = Field(description="Arrivals without a station status at that moment.")


class TransferAnswer(Model):
    coverage: Coverage
    walk_m: float
    max_wait_s: int
    unobserved: int = Field(
        description="Scheduled connections left out: the departing trip was not observed."
    )
    modes: list[ModeTransfers]
    bike: BikeTransfers | None = Field(
        description="Bus and metro to bike share: null when the source has no GBFS system in the real data."
    )


@lru_cache(maxsize=2)
def _timetable(folder: Path, stops_file: str, schedule_file: str) -> tuple[avl.StopTable, avl.Schedule]:
    stops = avl.read_stops((folder / stops_file).read_bytes())
    return stops, avl.read_schedule((folder / schedule_file).read_bytes(), stops)


_PASSAGES: dict[tuple[str, date, tuple[int, int, int]], avl.Passages] = {}
"""Passages of the last analysed days, by (source, day, digest of the fixes read): the read is audited
every time, the geometry is done once per set of fixes."""


def _passages(name: str, source: AvlSource, folder: Path, day: date, fixes: avl.Positions) -> avl.Passages:
    key = (name, day, (len(fixes.time), int(fixes.time.sum()), int(np.round(fixes.lat.sum() * 1e6))))
    if key not in _PASSAGES:
        stops, schedule = _timetable(folder, source.stops, source.schedule)
        while len(_PASSAGES) >= 4:
            _PASSAGES.pop(next(iter(_PASSAGES)))
        _PASSAGES[key] = avl.passages(fixes, stops, schedule, origin=avl.day_origin(day, source.timezone))
    return _PASSAGES[key]


@dataclass(frozen=True)
class _Day:
    name: str
    source: AvlSource
    day: date
    stops: avl.StopTable
    schedule: avl.Schedule
    found: avl.Passages
    fixes: int

    def coverage(self, timed: avl.OnTime | None = None) -> Coverage:
        unmatched = timed.unmatched if timed is not None else self.found.unmatched
        return Coverage(
            source=self.name,
            service_date=self.day,
            schedule_period=self.source.schedule_period,
            fixes=self.fixes,
            traces=len(self.found.traces),
            unmatched=dict(sorted(unmatched.items())),
        )


def _read(hub: Hub, consumer: Consumer, name: str, day: date) -> _Day:
    source = AVL_SOURCES.get(name)
    folder = hub.settings.realdata / source.folder if source else None
    if source is None or folder is None or not (folder / source.schedule).exists():
        raise ApiProblem(
            404, "avl.not_found", f"no AVL source {name!r} with its timetable under {hub.settings.realdata}"
        )
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ApiProblem(422, "request.invalid", f"query.date: want {FIRST_DAY} to {LAST_DAY}, got {day}")
    decision = access.authorise(hub, consumer, VEHICLE_POSITIONS)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {VEHICLE_POSITIONS.id}")
    origin = avl.day_origin(day, source.timezone)
    # the service day, and the trips of it that run past midnight
    since = datetime.fromtimestamp(origin, UTC)
    until = since + timedelta(hours=30)
    rows_query = query.RowQuery(
        fields=("vehicle_id", "observed_at", "trip_id", "route_id", "lat", "lon"),
        filters=(query.Filter(column="source", op="eq", values=(name,)),),
        since=since,
        until=until,
        limit=MAX_FIXES,
    )
    try:
        query.check(VEHICLE_POSITIONS, decision, rows_query)
    except query.QueryError as refused:
        raise ApiProblem(403, refused.reason, str(refused)) from None
    chunks = list(query.stream(hub, consumer, VEHICLE_POSITIONS, decision, rows_query, fmt="json"))
    rows = pa.concat_tables(chunks) if chunks else VEHICLE_POSITIONS.schema.empty_table()
    fixes = avl.positions_from_table(rows)
    stops, schedule = _timetable(folder, source.stops, source.schedule)
    found = _passages(name, source, folder, day, fixes)
    return _Day(name, source, day, stops, schedule, found, len(fixes.time))


def _hhmm(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 3600 + int(minutes) * 60


def _responses(ok: str) -> dict[int | str, dict[str, Any]]:
    return answers(
        ok, invalid=INVALID_PARAMETERS, unauthorised=UNAUTHORISED, forbidden=FORBIDDEN, not_found=NOT_FOUND
    )


@avl_router.get(
    "/on-time",
    summary="On-time performance",
    response_model=OnTimeAnswer,
    responses=_responses("Shares of stop passages early, on time and late, per route."),
)
def get_on_time(
    hub: HubDep,
    consumer: ConsumerDep,
    source: Source,
    date: Day,
    early_s: Annotated[int, Query(ge=0, le=1800, description="Early beyond this many seconds.")] = 60,
    late_s: Annotated[int, Query(ge=0, le=3600, description="Late beyond this many seconds.")] = 300,
) -> OnTimeAnswer:
    """On-time performance (准点率) of every observed trip: each stop passage against the scheduled trip
    assigned to its trace, early / on time / late by the windows (default -1 / +5 min)."""
    read = _read(hub, consumer, source, date)
    timed = avl.on_time(read.found, read.schedule, windows=avl.Windows(early_s=early_s, late_s=late_s))
    everything = (
        np.concatenate([a.deviation for a in timed.assigned]) if timed.assigned else np.zeros(0, np.int64)
    )
    return OnTimeAnswer(
        coverage=read.coverage(timed),
        early_s=early_s,
        late_s=late_s,
        overall=RouteOnTime(route="*", **avl.summarise(everything, timed.windows)),
        routes=[RouteOnTime(route=route, **values) for route, values in timed.by_route().items()],
    )


@avl_router.get(
    "/headways",
    summary="Headway regularity",
    response_model=HeadwayAnswer,
    responses=_responses("Headway regularity per route and stop in the window."),
)
def get_headways(
    hub: HubDep,
    consumer: ConsumerDep,
    source: Source,
    date: Day,
    start: Annotated[
        str, Query(pattern=r"^([01]\d|2[0-9]):[0-5]\d$", description="Window start, HH:MM.")
    ] = "06:00",
    end: Annotated[
        str, Query(pattern=r"^([01]\d|2[0-9]|30):[0-5]\d$", description="Window end, HH:MM.")
    ] = "24:00",
    route: Annotated[str | None, Query(max_length=64, description="Only this route.")] = None,
) -> HeadwayAnswer:
    """Headway regularity (车距均衡性) at every stop of every route: coefficient of variation of the
    observed headways and excess wait time over the schedule."""
    start_s, end_s = _hhmm(start), _hhmm(end)
    if start_s >= end_s:
        raise ApiProblem(422, "request.invalid", f"query.end: want start < end, got {start}-{end}")
    read = _read(hub, consumer, source, date)
    found = read.found
    if route is not None:
        found = avl.Passages(tuple(t for t in found.traces if t.route == route), found.unmatched)
    rows = avl.headways(found, read.schedule, start_s=start_s, end_s=end_s)
    return HeadwayAnswer(
        coverage=read.coverage(),
        start=start,
        end=end,
        median_cv=float(np.median([h.cv for h in rows])) if rows else None,
        median_excess_wait_s=float(np.median([h.excess_wait_s for h in rows])) if rows else None,
        stops=[
            StopHeadway(
                route=h.route,
                stop_id=str(read.stops.ids[h.stop]),
                passages=h.passages,
                mean_headway_s=h.mean_headway_s,
                cv=h.cv,
                wait_s=h.wait_s,
                excess_wait_s=h.excess_wait_s,
                scheduled_wait_s=h.scheduled_wait_s,
            )
            for h in rows
        ],
    )


@avl_router.get(
    "/transfers",
    summary="Transfer connections",
    response_model=TransferAnswer,
    responses=_responses("Scheduled connections at interchange stops and the share made, per mode pair."),
)
def get_transfers(
    hub: HubDep,
    consumer: ConsumerDep,
    source: Source,
    date: Day,
    walk_m: Annotated[
        float, Query(gt=0, le=500, description="Interchange: stops within this distance.")
    ] = 200,
    max_wait_s: Annotated[
        int, Query(ge=60, le=3600, description="Longest scheduled wait of a connection.")
    ] = 900,
) -> TransferAnswer:
    """Transfer connections (换乘衔接) at interchange stops, bus and metro: of the scheduled connections
    whose two trips were observed, the share made."""
    read = _read(hub, consumer, source, date)
    timed = avl.on_time(read.found, read.schedule)
    rules = avl.TransferRules(walk_m=walk_m, max_wait_s=max_wait_s, rail_routes=read.source.rail_routes)
    result = avl.transfers(timed, read.schedule, read.stops, rules)
    bike = _bike_transfers(hub, read, timed, walk_m)
    return TransferAnswer(
        coverage=read.coverage(timed),
        walk_m=walk_m,
        max_wait_s=max_wait_s,
        unobserved=result.unobserved,
        bike=bike,
        modes=[
            ModeTransfers(modes=k, connections=int(v["connections"]), made=v["made"])
            for k, v in result.by_modes().items()
        ],
    )


def _bike_transfers(hub: Hub, read: _Day, timed: avl.OnTime, walk_m: float) -> BikeTransfers | None:
    if read.source.bikeshare is None:
        return None
    folder = hub.settings.realdata / "bikeshare" / read.source.bikeshare
    stations = read_station_information((folder / "station_information.json").read_bytes())
    snapshots = [
        s
        for path in sorted(folder.glob("station_status*.json*"))
        for s in read_station_status(path.read_bytes())
    ]
    origin = avl.day_origin(read.day, read.source.timezone)
    stops = np.concatenate([read.schedule.patterns[a.trace.pattern][a.trace.stops] for a in timed.assigned])
    times = np.concatenate([a.trace.times for a in timed.assigned]) + origin
    found = avl.bike_connections(
        read.stops.lat[stops],
        read.stops.lon[stops],
        times,
        stations,
        sorted(snapshots, key=lambda s: s.last_updated),
        walk_m=walk_m,
    )
    known = found.arrivals - found.unknown
    return BikeTransfers(
        system=read.source.bikeshare,
        arrivals=found.arrivals,
        made=found.made / known if known else None,
        unknown=found.unknown,
    )
