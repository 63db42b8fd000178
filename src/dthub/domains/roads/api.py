"""HTTP routes of the roads domain, mounted at `/api/v1/roads`: congestion (TPI), segment levels, speed
forecasts and the forecast model registry.

Thin: validate the query, run the Ibis jobs of `congestion` over the lake on the hub's engine, answer.
Detector-days that `detector_health` flags are left out of every figure. Forecasts are rows of the dataset
`roads.segment_forecasts`, read through `hub.access` and `hub.query` (grant, clearance, a district's own
segments, audit). While the app runs, the scheduled job refreshes them every `DTHUB_FORECAST_REFRESH_S`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import ibis
from fastapi import APIRouter, FastAPI, Query
from pydantic import Field

from dthub.domains.roads.congestion import (
    LEVEL_ZH,
    CongestionThresholds,
    Scope,
    segment_levels,
    segment_speeds,
    tpi,
)
from dthub.domains.roads.datasets import MAX_HORIZON_STEPS, SEGMENT_FORECASTS
from dthub.domains.roads.detector_health import HealthRules, detector_health
from dthub.domains.roads.forecast import job
from dthub.domains.roads.forecast import registry as forecast_registry
from dthub.domains.roads.tables import ForecastModelRow
from dthub.hub import access, engine, query
from dthub.hub.core import Hub
from dthub.hub.web import (
    INVALID_PARAMETERS,
    RATE_LIMITED,
    UNAUTHORISED,
    ApiProblem,
    HubDep,
    LimitedConsumerDep,
    Model,
    answers,
)


@asynccontextmanager
async def refresh_forecasts_while_serving(app: FastAPI) -> AsyncIterator[None]:
    """Run the forecast refresh job beside the app, every `DTHUB_FORECAST_REFRESH_S` (0: not at all); on
    shutdown, wait for a refresh under way to finish before the hub closes."""
    hub: Hub = app.state.hub
    every_s = hub.settings.forecast_refresh_s
    if every_s <= 0:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(job.run_periodically(hub, every_s, stop))
    try:
        yield
    finally:
        stop.set()
        await task


router = APIRouter(lifespan=refresh_forecasts_while_serving)

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


ORDER = (("issued_at", True), ("segment_id", False), ("target_time", False))
"""Forecasts come newest issue first, then by segment and target time."""
FORBIDDEN = "No live grant on the dataset, or a clearance below its level; `error` is the access reason."


class SegmentForecast(Model):
    """The forecast speed of one segment for one interval, and the model version that made it."""

    segment_id: str
    issued_at: datetime = Field(description="When the forecast was issued (end of the history it read), UTC.")
    target_time: datetime = Field(description="Start of the interval forecast, UTC.")
    horizon_steps: int = Field(description="Steps ahead of issued_at; 1 is the next interval.")
    horizon_minutes: int = Field(description="Minutes from issued_at to the end of the interval forecast.")
    speed_kmh: float = Field(description="Forecast mean speed, km/h.")
    model_id: str = Field(description="Registry id of the model, `<name>-v<version>`.")
    model_name: str | None = Field(description="Model name: historical_average, lightgbm, tgcn, ...")
    model_version: int | None = Field(description="Version of the model under its name.")
    district_code: str | None = Field(description="District of the segment, if known.")


class ForecastInput(Model):
    """A lake batch a model was trained on (data lineage)."""

    dataset_id: str
    batch_id: str
    files: int = Field(description="Files of the batch in the training window.")


class ForecastModel(Model):
    """A version of a forecast model in the registry: what it was trained on, and how well it validated."""

    id: str = Field(description="`<name>-v<version>`.")
    name: str
    version: int
    status: Literal["active", "retired"] = Field(description="active: it issues the forecasts of its name.")
    params: dict[str, Any] = Field(description="Hyper-parameters.")
    step_minutes: int = Field(description="Minutes per step of its grid.")
    horizons: int = Field(description="Steps ahead it forecasts.")
    context_steps: int = Field(description="Steps of recent history each forecast reads.")
    segments: int = Field(description="Segments it forecasts.")
    train_start: datetime = Field(description="First instant of its training window, UTC.")
    train_end: datetime = Field(description="End (exclusive) of its training window, UTC.")
    trained_at: datetime
    trained_by: str
    retired_at: datetime | None
    code_version: str = Field(description="dthub version and commit that trained it.")
    metrics: dict[str, Any] = Field(
        description="Validation MAE, RMSE (km/h) and MAPE (%) per horizon and overall, and the protocol."
    )
    inputs: list[ForecastInput] = Field(description="Lake batches it was trained on.")


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiProblem(
            422, "request.invalid", f"query.{name}: {moment} is outside the UTC calendar"
        ) from None


@router.get(
    "/forecasts",
    summary="Segment speed forecasts",
    response_model=list[SegmentForecast],
    responses=answers(
        "Forecasts, newest issue first, then by segment and target time; each names its model version. "
        "The latest issue holds the forecasts of every model that issued then.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
        limited=RATE_LIMITED,
    ),
)
def get_forecasts(
    hub: HubDep,
    consumer: LimitedConsumerDep,
    segment: Annotated[str | None, Query(description="Only this segment id.")] = None,
    horizon: Annotated[
        int | None, Query(ge=1, le=MAX_HORIZON_STEPS, description="Only this many steps ahead.")
    ] = None,
    model: Annotated[str | None, Query(description="Only forecasts of this model name.")] = None,
    model_id: Annotated[
        str | None, Query(description="Only forecasts of this model version, `<name>-v<version>`.")
    ] = None,
    issued_since: Annotated[
        datetime | None, Query(description="Issued at or after, ISO 8601 (UTC if no offset).")
    ] = None,
    issued_until: Annotated[
        datetime | None, Query(description="Issued before (exclusive), ISO 8601 (UTC if no offset).")
    ] = None,
    latest: Annotated[
        bool, Query(description="Only the latest issue within the window (true), or every issue (false).")
    ] = True,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Most forecasts returned.")] = 1_000,
) -> list[SegmentForecast]:
    """Forecast speeds (预测车速) of segments as the registered models issued them, read through the
    access policy (a district sees its own segments) and audited."""
    decision = access.authorise(hub, consumer, SEGMENT_FORECASTS)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {SEGMENT_FORECASTS.id}")
    since, until = _aware(issued_since, "issued_since"), _aware(issued_until, "issued_until")
    if since is not None and until is not None and not since < until:
        raise ApiProblem(422, "request.invalid", "query.issued_until: want issued_since < issued_until")
    filters = [
        query.Filter(column=column, op="eq", values=(value,))
        for column, value in (
            ("segment_id", segment),
            ("horizon_steps", horizon),
            ("model_name", model),
            ("model_id", model_id),
        )
        if value is not None
    ]
    try:
        if latest:
            probe = query.RowQuery(
                fields=("issued_at",),
                filters=tuple(filters),
                since=since,
                until=until,
                sort=ORDER[:1],
                limit=1,
            )
            newest = engine.to_arrow(query.expression(hub, hub.reader(), SEGMENT_FORECASTS, decision, probe))
            if newest.num_rows == 0:
                query.record_read(hub, consumer, SEGMENT_FORECASTS, probe, fmt="json", rows=0)
                return []
            filters.append(
                query.Filter(column="issued_at", op="eq", values=(newest["issued_at"][0].as_py(),))
            )
        wanted = query.RowQuery(filters=tuple(filters), since=since, until=until, limit=limit, sort=ORDER)
        rows = query.read_page(hub, consumer, SEGMENT_FORECASTS, decision, wanted, fmt="json")
    except query.QueryError as error:
        raise ApiProblem(422, error.reason, error.detail) from None
    return [_forecast(row) for row in rows.to_pylist()]


def _forecast(row: dict[str, Any]) -> SegmentForecast:
    step_minutes = row.pop("step_minutes")
    return SegmentForecast(**row, horizon_minutes=row["horizon_steps"] * step_minutes)


def _model(row: ForecastModelRow, inputs: list[ForecastInput]) -> ForecastModel:
    return ForecastModel(
        id=row.id,
        name=row.name,
        version=row.version,
        status="active" if row.status == forecast_registry.ACTIVE else "retired",
        params=row.params,
        step_minutes=row.step_s // 60,
        horizons=row.horizons,
        context_steps=row.context_steps,
        segments=len(row.nodes),
        train_start=row.train_start,
        train_end=row.train_end,
        trained_at=row.trained_at,
        trained_by=row.trained_by,
        retired_at=row.retired_at,
        code_version=row.code_version,
        metrics=row.metrics,
        inputs=inputs,
    )


@router.get(
    "/forecast-models",
    summary="Forecast model registry",
    response_model=list[ForecastModel],
    responses=answers(
        "Registered model versions, newest first, with validation metrics and data lineage.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        limited=RATE_LIMITED,
    ),
)
def get_forecast_models(
    hub: HubDep,
    _consumer: LimitedConsumerDep,
    name: Annotated[str | None, Query(description="Only versions of this model name.")] = None,
    status: Annotated[
        Literal["active", "retired"] | None, Query(description="Only active or only retired versions.")
    ] = None,
) -> list[ForecastModel]:
    """The forecast model registry (预测模型登记): each version's parameters, training window, validation
    metrics per horizon, and the lake batches it was trained on. Any authenticated reader may see it."""
    return [
        _model(
            row,
            [
                ForecastInput(dataset_id=item.dataset_id, batch_id=item.batch_id, files=item.files)
                for item in forecast_registry.inputs(hub, row.id)
            ],
        )
        for row in forecast_registry.models(hub, name=name, status=status)
    ]
