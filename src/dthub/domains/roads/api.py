"""HTTP routes of the roads domain, mounted at `/api/v1/roads`: congestion (TPI) and segment levels.

Thin: validate the query, run the Ibis jobs of `congestion` over the lake on the hub's engine, answer.
Detector-days that `detector_health` flags are left out of every figure.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import ibis
from fastapi import APIRouter, Query
from pydantic import Field

from dthub.domains.roads.congestion import (
    LEVEL_ZH,
    CongestionThresholds,
    Scope,
    segment_levels,
    segment_speeds,
    tpi,
)
from dthub.domains.roads.detector_health import HealthRules, detector_health
from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.web import INVALID_PARAMETERS, ApiProblem, HubDep, Model, answers

router = APIRouter()

THRESHOLDS = CongestionThresholds()
HEALTH = HealthRules()
MAX_SPAN = timedelta(days=31)


class TpiPoint(Model):
    """DTP and TPI of one scope unit in one interval."""

    scope_id: str = Field(description="`network`, a district code or a corridor id.")
    interval_start: datetime = Field(description="Start of the interval, UTC.")
    segments: int = Field(description="Segments with a speed in the interval.")
    length_km: float = Field(description="Their length, km.")
    dtp: float = Field(description="Delay-time proportion (延误时间比), 0-1.")
    tpi: float = Field(description="Traffic performance index (交通运行指数), 0-10.")
    level: str = Field(description="Operating level key: free, basically_free, light, moderate, severe.")
    level_zh: str = Field(description="畅通, 基本畅通, 轻度拥堵, 中度拥堵 or 严重拥堵.")


class SegmentLevel(Model):
    """Operating level of one segment in one 5-minute interval."""

    segment_id: str
    interval_start: datetime = Field(description="Start of the interval, UTC.")
    road_class: str = Field(description="expressway, arterial or secondary_branch.")
    speed_kmh: float = Field(description="Mean speed in the interval, km/h.")
    level: str = Field(description="Operating level key: free, basically_free, light, moderate, severe.")
    level_zh: str = Field(description="畅通, 基本畅通, 轻度拥堵, 中度拥堵 or 严重拥堵.")


def _naive_utc(moment: datetime) -> datetime:
    """A query time as the naive UTC wall time the lake's timestamps have in Ibis (naive means UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _speeds(hub: Hub, con: object, start: datetime, end: datetime) -> ibis.Table:
    observations = hub.table("roads.detector_observations", con)
    observations = observations.filter(
        (observations.observed_at >= _naive_utc(start)) & (observations.observed_at < _naive_utc(end))
    )
    flags = detector_health(observations, rules=HEALTH)
    return segment_speeds(observations, hub.table("roads.detector_segments", con), unhealthy=flags)


@router.get(
    "/tpi",
    summary="Traffic performance index",
    response_model=list[TpiPoint],
    responses=answers(
        "DTP and TPI per interval, oldest first (empty when no segment reported).",
        invalid=INVALID_PARAMETERS + " Also when `id` is missing for a district or corridor, or the span "
        "is empty or longer than 31 days.",
    ),
)
def get_tpi(
    hub: HubDep,
    start: Annotated[datetime, Query(description="First instant, ISO 8601 (UTC if no offset).")],
    end: Annotated[datetime, Query(description="End instant (exclusive), at most 31 days after start.")],
    scope: Annotated[Scope, Query(description="network, district or corridor.")] = "network",
    id: Annotated[str | None, Query(description="District code or corridor id; not for network.")] = None,
    interval: Annotated[int, Query(description="Interval in minutes: 5 or 15.")] = 15,
) -> list[TpiPoint]:
    """Delay-time proportion and traffic performance index (GB/T 33171) of the network, a district or a
    corridor, per 5 or 15 minutes, from detector speeds mapped to segments, unhealthy detectors left out."""
    if interval not in (5, 15):
        raise ApiProblem(422, "request.invalid", f"query.interval: want 5 or 15, got {interval}")
    if scope != "network" and not id:
        raise ApiProblem(422, "request.invalid", f"query.id: required when scope is {scope}")
    if not start < end <= start + MAX_SPAN:
        raise ApiProblem(422, "request.invalid", f"query.end: want start < end <= start + 31 days, got {end}")
    con = hub.connect()
    result = tpi(
        _speeds(hub, con, start, end),
        hub.table("roads.segments", con),
        scope=scope,
        interval_minutes=interval,
        thresholds=THRESHOLDS,
    )
    if id:
        result = result.filter(result.scope_id == id)
    return [TpiPoint(**row, level_zh=LEVEL_ZH[row["level"]]) for row in engine.to_arrow(result).to_pylist()]


@router.get(
    "/segments/levels",
    summary="Segment operating levels",
    response_model=list[SegmentLevel],
    responses=answers(
        "The level of each segment with a speed in the 5-minute interval holding `at`.",
        invalid=INVALID_PARAMETERS,
    ),
)
def get_segment_levels(
    hub: HubDep,
    at: Annotated[datetime, Query(description="An instant, ISO 8601 (UTC if no offset).")],
) -> list[SegmentLevel]:
    """Operating level (畅通 … 严重拥堵) of every segment in the 5-minute interval that holds `at`, from its
    mean speed and road class."""
    moment = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    start = moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
    con = hub.connect()
    levels = segment_levels(
        _speeds(hub, con, start, start + timedelta(minutes=5)),
        hub.table("roads.segments", con),
        thresholds=THRESHOLDS,
    )
    return [
        SegmentLevel(**row, level_zh=LEVEL_ZH[row["level"]]) for row in engine.to_arrow(levels).to_pylist()
    ]
