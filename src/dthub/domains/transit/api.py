"""HTTP routes of the transit domain, mounted at `/api/v1/transit`: trip planning over GTFS feeds.

The same planner answers at `/api/v1/maas/plan` (the MaaS name of the action plan), through the `maas`
router that `transit.MAAS` mounts. Feeds are named by their path under `<DTHUB_REALDATA>/gtfs/` without
`.zip` (e.g. `nyc_mta/subway`); a timetable is built once per (feeds, date) and kept in memory.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from dthub.domains.transit.avl_api import avl_router
from dthub.domains.transit.gbfs import (
    BikeRules,
    Station,
    StatusSnapshot,
    network_at,
    read_station_information,
    read_station_status,
)
from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.plan import BikeShare
from dthub.domains.transit.plan import plan as make_plan
from dthub.domains.transit.realtime_api import realtime_router
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub.web import INVALID_PARAMETERS, ApiProblem, HubDep, Model, answers

router = APIRouter()
router.include_router(avl_router, prefix="/avl")  # AVL operations analytics
router.include_router(realtime_router, prefix="/realtime")  # GTFS-RT matching report
maas_router = APIRouter()

FEED_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
TIME = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


class PlanRequest(Model):
    """A trip from one point to another, leaving at a time of a service day."""

    from_lat: Annotated[float, Field(ge=-90, le=90, description="Origin latitude, WGS-84.")]
    from_lon: Annotated[float, Field(ge=-180, le=180, description="Origin longitude, WGS-84.")]
    to_lat: Annotated[float, Field(ge=-90, le=90, description="Destination latitude, WGS-84.")]
    to_lon: Annotated[float, Field(ge=-180, le=180, description="Destination longitude, WGS-84.")]
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Service date, YYYY-MM-DD.")]
    time: Annotated[str, Field(description="Departure, HH:MM or HH:MM:SS of the service day.")]
    feeds: Annotated[
        list[str], Field(min_length=1, max_length=10, description="GTFS feeds, e.g. `nyc_mta/subway`.")
    ]
    max_transfers: Annotated[int, Field(ge=0, le=10, description="Most transfers an itinerary may have.")] = 4
    walk_radius_m: Annotated[
        float, Field(gt=0, le=2000, description="Walking access, egress and transfers, m.")
    ] = 400
    walk_speed_mps: Annotated[float, Field(gt=0.2, le=3, description="Walking speed, m/s.")] = 1.2
    bikeshare: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9_-]+$",
            description="A GBFS system under `<DTHUB_REALDATA>/bikeshare/` (station_information.json and "
            "station_status*.json[l][.gz]): adds bike-share legs where a station has a bike or a dock.",
        ),
    ] = None
    bike_status_at: Annotated[
        str | None,
        Field(
            description="Bike availability as of this ISO 8601 instant (latest poll before); default last."
        ),
    ] = None
    bike_speed_mps: Annotated[float, Field(gt=1, le=12, description="Riding speed, m/s.")] = 4.5


@lru_cache(maxsize=2)
def _bike_feed(folder: Path) -> tuple[list[Station], list[StatusSnapshot]]:
    stations = read_station_information((folder / "station_information.json").read_bytes())
    snapshots: list[StatusSnapshot] = []
    for path in sorted(folder.glob("station_status*.json*")):
        snapshots += read_station_status(path.read_bytes())
    return stations, sorted(snapshots, key=lambda s: s.last_updated)


def _bikes(hub: HubDep, request: PlanRequest) -> BikeShare | None:
    if request.bikeshare is None:
        return None
    folder = hub.settings.realdata / "bikeshare" / request.bikeshare
    if not (folder / "station_information.json").exists():
        raise ApiProblem(404, "feed.not_found", f"no GBFS system {request.bikeshare!r} under {folder.parent}")
    at: int | None = None
    if request.bike_status_at is not None:
        try:
            moment = datetime.fromisoformat(request.bike_status_at)
            at = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
        except (ValueError, OverflowError):
            raise ApiProblem(422, "request.invalid", "body.bike_status_at: not an ISO 8601 instant") from None
    stations, snapshots = _bike_feed(folder)
    rules = BikeRules(
        ride_speed_mps=request.bike_speed_mps,
        walk_speed_mps=request.walk_speed_mps,
        walk_radius_m=request.walk_radius_m,
    )
    return BikeShare(request.bikeshare, network_at(stations, snapshots, at), rules)


TimetableKey = tuple[tuple[Path, ...], date, float, float]
_BUILDS: dict[TimetableKey, threading.Lock] = {}


def _timetable(paths: tuple[Path, ...], day: date, walk_radius_m: float, walk_speed_mps: float) -> Timetable:
    """The day's timetable of the feeds, built once: requests that arrive while it is built (a city takes
    about a minute) wait for that build instead of starting their own; other timetables are not held up."""
    key = (paths, day, walk_radius_m, walk_speed_mps)
    with _BUILDS.setdefault(key, threading.Lock()):
        return _built_timetable(*key)


@lru_cache(maxsize=4)
def _built_timetable(
    paths: tuple[Path, ...], day: date, walk_radius_m: float, walk_speed_mps: float
) -> Timetable:
    return build_timetable(
        [read_feed(path, name=path.name.removesuffix(".zip")) for path in paths],
        day,
        walk_radius_m=walk_radius_m,
        walk_speed_mps=walk_speed_mps,
    )


def _answer(hub: HubDep, request: PlanRequest) -> dict[str, Any]:
    match = TIME.match(request.time)
    if match is None:
        raise ApiProblem(422, "request.invalid", f"body.time: want HH:MM[:SS], got {request.time!r}")
    try:
        day = date.fromisoformat(request.date)
    except ValueError:
        raise ApiProblem(422, "request.invalid", f"body.date: not a date, got {request.date!r}") from None
    paths = []
    for name in request.feeds:
        if not FEED_NAME.match(name) or ".." in name:
            raise ApiProblem(422, "request.invalid", f"body.feeds: not a feed name, got {name!r}")
        path = hub.settings.realdata / "gtfs" / f"{name}.zip"
        if not path.exists():
            path = hub.settings.realdata / "gtfs" / name
        if not path.exists():
            raise ApiProblem(
                404, "feed.not_found", f"no GTFS feed {name!r} under {hub.settings.realdata / 'gtfs'}"
            )
        paths.append(path)
    hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
    timetable = _timetable(tuple(paths), day, request.walk_radius_m, request.walk_speed_mps)
    return make_plan(
        timetable,
        (request.from_lat, request.from_lon),
        (request.to_lat, request.to_lon),
        hours * 3600 + minutes * 60 + secs,
        access_radius_m=request.walk_radius_m,
        walk_speed_mps=request.walk_speed_mps,
        max_rounds=request.max_transfers + 1,
        bikes=_bikes(hub, request),
    )


RESPONSES = answers(
    "An OpenTripPlanner-like `plan`: itineraries (one per number of transfers that arrives earlier than "
    "with fewer), each with legs (mode, route, stops, times in seconds of the service day, geometry). With "
    "`bikeshare`, also the bike-only itinerary and transit ones reached or left by bike where they arrive "
    "earlier (legs of mode BICYCLE, `rentedBike`, stations with `bikeShareId`).",
    not_found="A feed named is not under `<DTHUB_REALDATA>/gtfs/`, or the bike-share system not under "
    "`<DTHUB_REALDATA>/bikeshare/`; `error` is `feed.not_found`.",
    invalid=INVALID_PARAMETERS,
)


@router.post("/plan", summary="Plan a trip", responses=RESPONSES)
def post_plan(hub: HubDep, request: PlanRequest) -> dict[str, Any]:
    """Earliest-arrival itineraries between two points (RAPTOR over the service day's timetable of the
    feeds, walking access, egress and transfers), as in OpenTripPlanner's plan response."""
    return _answer(hub, request)


@maas_router.post("/plan", summary="Plan a trip (MaaS)", responses=RESPONSES)
def post_maas_plan(hub: HubDep, request: PlanRequest) -> dict[str, Any]:
    """The same planner as `POST /api/v1/transit/plan`, under the MaaS name of the action plan."""
    return _answer(hub, request)
