"""Figures of the overview page (综合监控): dataset freshness, open quarantine, batches today, network TPI.

Every figure is read from the hub as it is; nothing here is simulated. Freshness compares a dataset's latest
event time (its landing time when it has no time column) with its declared update period: fresh within
`STALE_AFTER_PERIODS` periods, stale beyond; an `irregular` dataset is stale after `IRREGULAR_STALE_AFTER`.
The TPI is the roads congestion job (GB/T 33171) over the latest 24 hours of detector data in the lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import ibis
from sqlalchemy import func, select

from dthub.console import SHANGHAI
from dthub.domains.roads.api import HEALTH, THRESHOLDS
from dthub.domains.roads.congestion import segment_speeds, tpi
from dthub.domains.roads.detector_health import detector_health
from dthub.hub import catalog, engine
from dthub.hub.catalog import DatasetFigures
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.tables import BatchRow

Freshness = Literal["fresh", "stale", "empty"]

STALE_AFTER_PERIODS = 3
"""A periodic dataset is stale when its latest data is older than this many update periods."""
IRREGULAR_STALE_AFTER = timedelta(days=30)
"""An `irregular` dataset is stale when nothing landed for this long."""
TPI_INTERVAL_MIN = 15
TPI_WINDOW = timedelta(hours=24)
OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS = (
    "roads.detector_observations",
    "roads.detector_segments",
    "roads.segments",
)
_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


def update_period(frequency: str) -> timedelta | None:
    """An ISO 8601 duration (`PT5M`, `P1D`) as a timedelta; None for `irregular` or anything else."""
    match = _DURATION.match(frequency)
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {key: int(value or 0) for key, value in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def freshness(spec: DatasetSpec, figures: DatasetFigures, *, now: datetime) -> Freshness:
    """Whether the dataset's data is recent enough for its declared update period."""
    latest = figures.latest_event_at or figures.last_landed_at
    if figures.rows == 0 or latest is None:
        return "empty"
    period = update_period(spec.update_frequency)
    allowed = period * STALE_AFTER_PERIODS if period is not None else IRREGULAR_STALE_AFTER
    return "fresh" if now - latest <= allowed else "stale"


@dataclass(frozen=True, kw_only=True)
class TpiPoint:
    at: datetime  # UTC start of the interval
    tpi: float
    level: str


@dataclass(frozen=True, kw_only=True)
class TpiDay:
    """Network TPI per 15 minutes over the latest 24 hours of data."""

    points: list[TpiPoint]

    @property
    def latest(self) -> TpiPoint:
        return self.points[-1]

    @property
    def mean(self) -> float:
        return round(sum(point.tpi for point in self.points) / len(self.points), 2)


@dataclass(frozen=True, kw_only=True)
class Overview:
    fresh: int
    stale: int
    empty: int
    quarantine_open: int
    batches_today: int


def overview(hub: Hub, *, now: datetime) -> Overview:
    specs = list(hub.registry.datasets.values())
    figures = catalog.figures(hub.store, [spec.id for spec in specs])
    states = [freshness(spec, figures[spec.id], now=now) for spec in specs]
    return Overview(
        fresh=states.count("fresh"),
        stale=states.count("stale"),
        empty=states.count("empty"),
        quarantine_open=sum(f.open_quarantine for f in figures.values()),
        batches_today=batches_since(hub, local_midnight(now)),
    )


def local_midnight(now: datetime) -> datetime:
    """Start of today in Asia/Shanghai, as UTC."""
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def batches_since(hub: Hub, since: datetime) -> int:
    with hub.store.session() as session:
        query = select(func.count(BatchRow.id)).where(BatchRow.started_at >= since)
        return int(session.scalar(query) or 0)


def network_tpi(hub: Hub, *, window: timedelta = TPI_WINDOW) -> TpiDay | None:
    """The network TPI over the latest `window` (24 hours) of detector data; None when the lake lacks it."""
    figures = catalog.figures(hub.store, [OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS])
    latest = figures[OBSERVATIONS].latest_event_at
    if latest is None or any(figures[name].rows == 0 for name in (DETECTOR_SEGMENTS, SEGMENTS)):
        return None
    step_s = TPI_INTERVAL_MIN * 60
    end = datetime.fromtimestamp((int(latest.timestamp()) // step_s + 1) * step_s, UTC)
    start = end - window
    con = hub.connect()
    observations = hub.table(OBSERVATIONS, con)
    naive = (start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None))
    observations = observations.filter(
        (observations.observed_at >= naive[0]) & (observations.observed_at < naive[1])
    )
    speeds = segment_speeds(
        observations,
        hub.table(DETECTOR_SEGMENTS, con),
        unhealthy=detector_health(observations, rules=HEALTH),
    )
    result: ibis.Table = tpi(
        speeds,
        hub.table(SEGMENTS, con),
        scope="network",
        interval_minutes=TPI_INTERVAL_MIN,
        thresholds=THRESHOLDS,
    )
    points = [
        TpiPoint(at=_utc(row["interval_start"]), tpi=float(row["tpi"]), level=str(row["level"]))
        for row in engine.to_arrow(result).to_pylist()
    ]
    return TpiDay(points=points) if points else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
