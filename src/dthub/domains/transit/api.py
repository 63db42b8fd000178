"""HTTP routes of the transit domain, mounted at `/api/v1/transit`: trip planning over the landed GTFS feeds.

The same planner answers at `/api/v1/maas/plan` (the MaaS name of the action plan), through the `maas`
router that `transit.MAAS` mounts. Riders need no key: the planner reads the hub as its own service
identity (`transit.landed`: application `maas-planner`, access-checked, audited for trip planning) and
answers 503 `planner.not_provisioned` when that identity or a grant is missing. Feeds are named as they
landed (the `feed` column of `transit.*`, e.g. `subway`); a timetable is built once per (feeds, date, walking
rules, landed version) and kept in memory, so a new landing is planned on from the next request. With
realtime (the default), the TripUpdates landed for the feeds are applied (`realtime_apply`).
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from dthub.domains.transit.avl_api import avl_router
from dthub.domains.transit.datasets import GTFS_DATASETS
from dthub.domains.transit.gbfs import BikeNetwork, BikeRules, network_at
from dthub.domains.transit.gtfs import Feed
from dthub.domains.transit.landed import (
    PlannerUnavailable,
    bike_stations,
    bike_status,
    landed_feed,
    landed_feeds,
    landed_systems,
    landed_version,
    planner,
    trip_updates,
)
from dthub.domains.transit.plan import BikeShare, mark_realtime
from dthub.domains.transit.plan import plan as make_plan
from dthub.domains.transit.realtime import TripUpdate
from dthub.domains.transit.realtime_api import realtime_router
from dthub.domains.transit.realtime_apply import apply_trip_updates
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer
from dthub.hub.web import INVALID_PARAMETERS, ApiProblem, HubDep, Model, answers, keys_or_503

router = APIRouter()
router.include_router(avl_router, prefix="/avl")  # AVL operations analytics
router.include_router(realtime_router, prefix="/realtime")  # GTFS-RT matching report
maas_router = APIRouter()

FEED_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
TIME = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
"""`HH:MM[:SS]` of a service day (hours may pass 24)."""


def is_feed_name(name: str) -> bool:
    """A feed's (or GTFS-RT source's, GBFS system's) name: `/`-separated parts of letters, digits, `_`,
    `-` (and `.` after the first part), never `..`."""
    return FEED_NAME.match(name) is not None and ".." not in name


class PlanRequest(Model):
    """A trip from one point to another, leaving at a time of a service day."""

    from_lat: Annotated[float, Field(ge=-90, le=90, description="Origin latitude, WGS-84.")]
    from_lon: Annotated[float, Field(ge=-180, le=180, description="Origin longitude, WGS-84.")]
    to_lat: Annotated[float, Field(ge=-90, le=90, description="Destination latitude, WGS-84.")]
    to_lon: Annotated[float, Field(ge=-180, le=180, description="Destination longitude, WGS-84.")]
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Service date, YYYY-MM-DD.")]
    time: Annotated[str, Field(description="Departure, HH:MM or HH:MM:SS of the service day.")]
    feeds: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=10,
            description="Landed GTFS feeds, by the `feed` they landed as in `transit.*`, e.g. `subway`.",
        ),
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
            description="A GBFS system landed in `transit.bike_stations` and `transit.bike_station_status` "
            "(its `system`): adds bike-share legs where a station has a bike or a dock.",
        ),
    ] = None
    bike_status_at: Annotated[
        str | None,
        Field(
            description="Bike availability as of this ISO 8601 instant (latest poll before); default last."
        ),
    ] = None
    bike_speed_mps: Annotated[float, Field(gt=1, le=12, description="Riding speed, m/s.")] = 4.5
    realtime: Annotated[
        bool,
        Field(
            description="Apply the GTFS-RT TripUpdates landed for the feeds (`transit.stop_time_updates` "
            "with `source` = the feed); false plans on the schedule."
        ),
    ] = True
    realtime_at: Annotated[
        str | None,
        Field(
            description="Realtime state as of this ISO 8601 instant (to the second): per trip the latest "
            "update before it, none older than `DTHUB_TRANSIT_REALTIME_MAX_AGE_S`; default now."
        ),
    ] = None


def _bike_moment(request: PlanRequest) -> datetime | None:
    if request.bike_status_at is None:
        return None
    moment = _instant(request.bike_status_at, "bike_status_at")
    return moment.replace(microsecond=0)


@lru_cache(maxsize=2)
def _bike_systems(hub: Hub, consumer: Consumer, version: tuple[int, ...]) -> frozenset[str]:
    return frozenset(landed_systems(hub, consumer))


@lru_cache(maxsize=8)
def _bike_network(
    hub: Hub, consumer: Consumer, system: str, version: tuple[int, ...], at: datetime | None
) -> BikeNetwork:
    """The system's stations with their availability at `at` (the last poll when None), read once per
    landed version and second."""
    stations = bike_stations(hub, consumer, system)
    snapshots = bike_status(hub, consumer, system, at)
    return network_at(stations, snapshots, int(at.timestamp()) if at is not None else None)


def _bikes(hub: Hub, consumer: Consumer, version: tuple[int, ...], request: PlanRequest) -> BikeShare | None:
    if request.bikeshare is None:
        return None
    systems = _bike_systems(hub, consumer, version)
    if request.bikeshare not in systems:
        raise ApiProblem(
            404,
            "feed.not_found",
            f"no landed GBFS system {request.bikeshare!r}; landed: {', '.join(sorted(systems)) or 'none'}",
        )
    rules = BikeRules(
        ride_speed_mps=request.bike_speed_mps,
        walk_speed_mps=request.walk_speed_mps,
        walk_radius_m=request.walk_radius_m,
    )
    network = _bike_network(hub, consumer, request.bikeshare, version, _bike_moment(request))
    return BikeShare(request.bikeshare, network, rules)


@dataclass(frozen=True, eq=False)
class Network:
    """A day's timetable of landed feeds, the feeds it was built from (GTFS-RT refers to them), and its trip
    ids → index (for the scheduled times of realtime legs)."""

    timetable: Timetable
    feeds: tuple[Feed, ...]
    trip_index: dict[str, int]


TimetableKey = tuple[tuple[str, ...], date, float, float, tuple[int, ...]]
_BUILDS: dict[TimetableKey, threading.Lock] = {}


def _timetable(hub: Hub, consumer: Consumer, key: TimetableKey) -> Network:
    """The day's timetable of the feeds at a landed version, built once: requests that arrive while it is
    built (a city takes about a minute) wait for that build instead of starting their own; other timetables
    are not held up."""
    with _BUILDS.setdefault(key, threading.Lock()):
        return _built_timetable(hub, consumer, key)


@lru_cache(maxsize=4)
def _built_timetable(hub: Hub, consumer: Consumer, key: TimetableKey) -> Network:
    names, day, walk_radius_m, walk_speed_mps, _version = key
    feeds = tuple(landed_feed(hub, consumer, name) for name in names)
    timetable = build_timetable(feeds, day, walk_radius_m=walk_radius_m, walk_speed_mps=walk_speed_mps)
    return Network(timetable, feeds, {str(t): n for n, t in enumerate(timetable.trip_ids)})


@lru_cache(maxsize=2)
def _feed_names(hub: Hub, consumer: Consumer, version: tuple[int, ...]) -> frozenset[str]:
    return frozenset(landed_feeds(hub, consumer))


@dataclass(frozen=True)
class Realtime:
    """A timetable with the TripUpdates of its feeds applied, and what was done with them."""

    timetable: Timetable
    updated_trips: frozenset[str]
    summary: dict[str, Any]


@lru_cache(maxsize=8)
def _applied(network: Network, updates: tuple[tuple[str, tuple[TripUpdate, ...]], ...]) -> Realtime:
    tt = network.timetable
    summary: dict[str, Any] = {"updated": 0, "cancelled": 0, "unapplied": {}}
    for feed, (name, feed_updates) in zip(network.feeds, updates, strict=True):
        if not feed_updates:
            continue
        applied = apply_trip_updates(tt, feed_updates, static=feed, feed_name=name)
        tt = applied.timetable
        summary["updated"] += applied.updated
        summary["cancelled"] += applied.cancelled
        for reason, count in applied.unapplied.items():
            summary["unapplied"][reason] = summary["unapplied"].get(reason, 0) + count
    trips = frozenset(
        f"{name}:{u.trip.trip_id}{suffix}"
        for name, feed_updates in updates
        for u in feed_updates
        if u.trip.trip_id is not None
        for suffix in ("", "@-1")
    )
    return Realtime(tt, trips, summary)


STATE_TTL_S = 1.0
"""The planner's grants and the landed version are looked up at most this often per hub and process (they
cost more than a plan): a revocation or a new landing takes effect within it; a feed not among the landed
ones is looked up again at once."""
_STATE: weakref.WeakKeyDictionary[Hub, tuple[float, Consumer, tuple[int, ...]]] = weakref.WeakKeyDictionary()


def _planner_state(hub: Hub, *, fresh: bool = False) -> tuple[Consumer, tuple[int, ...]]:
    """The planner's identity (checked: `PlannerUnavailable` when not provisioned) and the landed version
    of its datasets, kept `STATE_TTL_S`."""
    now = time.monotonic()
    kept = _STATE.get(hub)
    if kept is not None and not fresh and now - kept[0] < STATE_TTL_S:
        return kept[1], kept[2]
    consumer, version = planner(hub), landed_version(hub)
    _STATE[hub] = (now, consumer, version)
    return consumer, version


@lru_cache(maxsize=32)
def _updates(hub: Hub, consumer: Consumer, feed: str, version: int, at: datetime) -> tuple[TripUpdate, ...]:
    """The feed's TripUpdates as of `at` (whole seconds), read once per landed version and second."""
    limit = hub.settings.transit_realtime_max_age_s
    return tuple(trip_updates(hub, consumer, feed, at, max_age_s=limit))


def _instant(text: str | None, name: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ApiProblem(422, "request.invalid", f"body.{name}: not an ISO 8601 instant") from None


def _answer(hub: HubDep, request: PlanRequest) -> dict[str, Any]:
    match = TIME.match(request.time)
    if match is None:
        raise ApiProblem(422, "request.invalid", f"body.time: want HH:MM[:SS], got {request.time!r}")
    try:
        day = date.fromisoformat(request.date)
    except ValueError:
        raise ApiProblem(422, "request.invalid", f"body.date: not a date, got {request.date!r}") from None
    for name in request.feeds:
        if not is_feed_name(name):
            raise ApiProblem(422, "request.invalid", f"body.feeds: not a feed name, got {name!r}")
    at = _instant(request.realtime_at, "realtime_at")
    _bike_moment(request)  # 422 before anything is read
    gtfs, updates_at, bikes_at = len(GTFS_DATASETS), len(GTFS_DATASETS), len(GTFS_DATASETS) + 1
    try:
        with keys_or_503():
            consumer, version = _planner_state(hub)
            landed = _feed_names(hub, consumer, version[:gtfs])
            if not set(request.feeds) <= landed:  # landed a moment ago?
                consumer, version = _planner_state(hub, fresh=True)
                landed = _feed_names(hub, consumer, version[:gtfs])
            for name in request.feeds:
                if name not in landed:
                    raise ApiProblem(
                        404,
                        "feed.not_found",
                        f"no landed GTFS feed {name!r}; landed: {', '.join(sorted(landed)) or 'none'}",
                    )
            names = tuple(request.feeds)
            bikes = _bikes(hub, consumer, version[bikes_at:], request)
            key = (names, day, request.walk_radius_m, request.walk_speed_mps, version[:gtfs])
            network = _timetable(hub, consumer, key)
            realtime = None
            if request.realtime and version[updates_at]:  # some TripUpdates landed
                second = at.replace(microsecond=0)
                updates = tuple(
                    (name, _updates(hub, consumer, name, version[updates_at], second)) for name in names
                )
                if any(found for _, found in updates):
                    realtime = _applied(network, updates)
    except PlannerUnavailable as refused:
        raise ApiProblem(503, refused.reason, refused.detail) from None
    hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
    answer = make_plan(
        realtime.timetable if realtime is not None else network.timetable,
        (request.from_lat, request.from_lon),
        (request.to_lat, request.to_lon),
        hours * 3600 + minutes * 60 + secs,
        access_radius_m=request.walk_radius_m,
        walk_speed_mps=request.walk_speed_mps,
        max_rounds=request.max_transfers + 1,
        bikes=bikes,
    )
    if realtime is None:
        mark_realtime(answer, None, {}, ())
    else:
        mark_realtime(answer, network.timetable, network.trip_index, realtime.updated_trips)
    answer["plan"]["realtime"] = {
        "at": at.replace(microsecond=0).isoformat() if request.realtime else None,
        **(realtime.summary if realtime is not None else {"updated": 0, "cancelled": 0, "unapplied": {}}),
    }
    return answer


RESPONSES = answers(
    "An OpenTripPlanner-like `plan`: itineraries (one per number of transfers that arrives earlier than "
    "with fewer), each with legs (mode, route, stops, times in seconds of the service day, geometry). With "
    "`bikeshare`, also the bike-only itinerary and transit ones reached or left by bike where they arrive "
    "earlier (legs of mode BICYCLE, `rentedBike`, stations with `bikeShareId`). Transit legs carry OTP's "
    "`realTime` (its trip has a TripUpdate applied), `departureDelay` and `arrivalDelay` (s, against the "
    "schedule); `plan.realtime` says as of when, and how many trips were updated, cancelled or not applied.",
    not_found="A feed named, or the bike-share system, has not landed in `transit.*` (the detail lists "
    "those that have); `error` is `feed.not_found`.",
    invalid=INVALID_PARAMETERS,
    unavailable="The planner's service identity (application `maas-planner`) or one of its grants on the "
    "`transit.*` datasets it reads is missing, revoked or expired; `error` is `planner.not_provisioned`. "
    "An operator runs `dthub access planner --as person:<admin>`.",
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
