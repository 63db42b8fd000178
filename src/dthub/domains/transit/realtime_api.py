"""How landed vehicle positions match the schedule, over HTTP: `GET /api/v1/transit/realtime/matching`.

The positions of one realtime source are read from `transit.vehicle_positions` through `hub.access` (the
read is audited) and each fix's trip descriptor is matched to the static GTFS feed it comes with
(`transit.realtime.match_trip`), named by its path under `<DTHUB_REALDATA>` (e.g. `gtfs_rt/speedrt/gtfs`).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Query
from pydantic import Field

from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.realtime import Schedule, TripRef, match_trip
from dthub.domains.transit.realtime_ingest import VEHICLE_POSITIONS
from dthub.hub import access, query
from dthub.hub.web import INVALID_PARAMETERS, UNAUTHORISED, ApiProblem, ConsumerDep, HubDep, Model, answers

realtime_router = APIRouter()

FEED_PATH = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")
MAX_FIXES = 1_000_000
EXAMPLES = 50


class Unmatched(Model):
    vehicle_id: str
    observed_at: datetime
    trip_id: str | None
    route_id: str | None
    reason: str


class MatchingAnswer(Model):
    source: str
    feed: str
    fixes: int = Field(description="Fixes read (an audited read of transit.vehicle_positions).")
    matched: int
    how: dict[str, int] = Field(
        description="Matched fixes by rule: trip_id, route_start_time, route_only_trip."
    )
    unmatched: dict[str, int] = Field(
        description="Unmatched fixes by reason: no_trip_descriptor, unknown_trip_id, trip_not_running, "
        "bad_start_date, unknown_route_id, no_trip_at_start_time, route_not_running, ambiguous_route."
    )
    examples: list[Unmatched] = Field(description=f"Up to {EXAMPLES} unmatched fixes, latest first.")


def _utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        raise ApiProblem(422, "request.invalid", f"query.{name}: out of range, got {moment}") from None


@lru_cache(maxsize=4)
def _schedule(path: Path) -> Schedule:
    return Schedule(read_feed(path))


@realtime_router.get(
    "/matching",
    summary="Realtime positions matched to the schedule",
    response_model=MatchingAnswer,
    responses=answers(
        "Fixes matched to scheduled trips, by rule, and the unmatched ones by reason.",
        not_found="No GTFS feed at that path under `<DTHUB_REALDATA>`; `error` is `feed.not_found`.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden="No grant on transit.vehicle_positions, or a clearance below its level.",
    ),
)
def get_matching(
    hub: HubDep,
    consumer: ConsumerDep,
    source: Annotated[str, Query(max_length=64, description="Realtime source the positions landed under.")],
    feed: Annotated[
        str,
        Query(max_length=200, description="Static GTFS under the real data, e.g. `gtfs_rt/speedrt/gtfs`."),
    ],
    since: Annotated[
        datetime | None, Query(description="First instant, ISO 8601 (UTC if no offset).")
    ] = None,
    until: Annotated[datetime | None, Query(description="End instant (exclusive).")] = None,
) -> MatchingAnswer:
    """Each landed fix's trip descriptor against the static feed: by trip_id, or route + direction + start
    time, or the route's only trip of the day; every fix that matches nothing counted with its reason."""
    if not FEED_PATH.match(feed) or ".." in feed:
        raise ApiProblem(422, "request.invalid", f"query.feed: not a feed path, got {feed!r}")
    path = hub.settings.realdata / f"{feed}.zip"
    path = path if path.exists() else hub.settings.realdata / feed
    if not path.exists() or not (path.is_dir() or path.suffix == ".zip"):
        raise ApiProblem(404, "feed.not_found", f"no GTFS feed {feed!r} under {hub.settings.realdata}")
    decision = access.authorise(hub, consumer, VEHICLE_POSITIONS)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {VEHICLE_POSITIONS.id}")
    rows_query = query.RowQuery(
        fields=(
            "vehicle_id",
            "observed_at",
            "trip_id",
            "route_id",
            "direction_id",
            "start_date",
            "start_time",
        ),
        filters=(query.Filter(column="source", op="eq", values=(source,)),),
        since=_utc(since, "since"),
        until=_utc(until, "until"),
        sort=(("observed_at", True),),
        limit=MAX_FIXES,
    )
    try:
        query.check(VEHICLE_POSITIONS, decision, rows_query)
    except query.QueryError as refused:
        raise ApiProblem(403, refused.reason, str(refused)) from None
    chunks = list(query.stream(hub, consumer, VEHICLE_POSITIONS, decision, rows_query, fmt="json"))
    rows = pa.concat_tables(chunks).to_pylist() if chunks else []
    schedule = _schedule(path)
    how: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    examples: list[Unmatched] = []
    for row in rows:
        observed: datetime = row["observed_at"]
        observed = observed if observed.tzinfo else observed.replace(tzinfo=UTC)  # the lake's naive UTC
        ref = None
        if row["trip_id"] is not None or row["route_id"] is not None:
            ref = TripRef(
                trip_id=row["trip_id"],
                route_id=row["route_id"],
                direction_id=row["direction_id"],
                start_date=row["start_date"],
                start_time=row["start_time"],
            )
        match = match_trip(schedule, str(row["vehicle_id"]), ref, int(observed.timestamp()))
        if match.how is not None:
            how[match.how] += 1
            continue
        reason = match.reason or "unmatched"
        unmatched[reason] += 1
        if len(examples) < EXAMPLES:
            examples.append(
                Unmatched(
                    vehicle_id=str(row["vehicle_id"]),
                    observed_at=observed,
                    trip_id=row["trip_id"],
                    route_id=row["route_id"],
                    reason=reason,
                )
            )
    return MatchingAnswer(
        source=source,
        feed=feed,
        fixes=len(rows),
        matched=sum(how.values()),
        how=dict(sorted(how.items())),
        unmatched=dict(sorted(unmatched.items())),
        examples=examples,
    )
