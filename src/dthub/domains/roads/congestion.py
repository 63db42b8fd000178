"""Congestion in the national terms of GB/T 33171-2016 (城市交通运行评价指标体系): segment levels, the
delay-time proportion (延误时间比, DTP) and the traffic performance index (交通运行指数, TPI 0-10).

Pure Ibis jobs: the same expressions run on DuckDB and on Spark. Floats are rounded to `DECIMALS` places so
both engines give identical results. Thresholds come in a `CongestionThresholds` (the defaults are the
reference tables of `reference/standards.md` §5); nothing here hard-codes a band.

- Segment level (路段运行等级) from its mean speed in the interval, by road class (speed bands ⚠️).
- DTP of a scope (network, district, corridor) per interval, clause 7.2.2.2: (actual travel time - free-flow
  travel time) / actual travel time, summed over the scope's reporting segments, each travelled once over its
  length: DTP = Σ L·(1/v − 1/v_f) / Σ L/v. A segment's speed is clamped to [min_speed_kmh, v_f] (faster than
  free flow is no delay; a standing queue is not an infinite time).
- TPI from DTP by Annex C: DTP bands map to TPI bands of width 2 (畅通 [0, 2) ... 严重拥堵 [8, 10]);
  within a band TPI is linear in DTP (a project convention, not the standard's).
"""

from __future__ import annotations

import itertools
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dthub.domains.roads.network import RoadClass

DECIMALS = 3
"""Decimal places of every float the jobs return."""

Scope = Literal["network", "district", "corridor"]
SCOPE_COLUMN: dict[Scope, str | None] = {
    "network": None,
    "district": "district_code",
    "corridor": "corridor_id",
}
"""Column of `roads.segments` that names a scope's units; the network is one unit, `network`."""

LEVELS = ("free", "basically_free", "light", "moderate", "severe")
"""Operating levels (运行等级), least congested first; stable keys."""
LEVEL_ZH = dict(zip(LEVELS, ("畅通", "基本畅通", "轻度拥堵", "中度拥堵", "严重拥堵"), strict=True))
TPI_BANDS = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0)
"""GB/T 33171 Annex C: the TPI band of each level."""

SpeedBands = tuple[float, float, float, float]


class CongestionThresholds(BaseModel):
    """Bands that turn speeds and delays into levels (reference/standards.md §5, GB/T 33171-2016).

    Speed bands (km/h) per road class, the lower bounds of 畅通, 基本畅通, 轻度拥堵 and 中度拥堵: a speed
    above the first is 畅通, at or below the last is 严重拥堵. ⚠️ The table is commonly attributed to GB/T
    33171 / DB11/T 785 but the attribution is unverified, so it is configuration. DTP bounds are Annex C's
    (verified): < 0.3 畅通, [0.3, 0.5) 基本畅通, [0.5, 0.6) 轻度, [0.6, 0.7) 中度, ≥ 0.7 严重."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expressway_kmh: SpeedBands = Field(
        default=(65.0, 50.0, 35.0, 20.0), description="Urban expressway 快速路."
    )
    arterial_kmh: SpeedBands = Field(default=(40.0, 30.0, 20.0, 15.0), description="Arterial 主干路.")
    secondary_branch_kmh: SpeedBands = Field(
        default=(35.0, 25.0, 15.0, 10.0), description="Secondary and branch roads 次干路及支路."
    )
    dtp_bounds: tuple[float, float, float, float] = Field(
        default=(0.3, 0.5, 0.6, 0.7), description="Lower DTP bounds of 基本畅通, 轻度, 中度, 严重 (Annex C)."
    )
    min_speed_kmh: float = Field(default=1.0, gt=0, description="Floor of a segment speed in travel times.")

    @model_validator(mode="after")
    def _ordered(self) -> CongestionThresholds:
        for name in ("expressway_kmh", "arterial_kmh", "secondary_branch_kmh"):
            bands = getattr(self, name)
            if list(bands) != sorted(bands, reverse=True):
                raise ValueError(f"{name}={bands}: bands must fall from 畅通 to 中度拥堵")
        if (
            list(self.dtp_bounds) != sorted(self.dtp_bounds)
            or not 0 < self.dtp_bounds[0] < self.dtp_bounds[-1] < 1
        ):
            raise ValueError(f"dtp_bounds={self.dtp_bounds}: must rise within (0, 1)")
        return self

    def speed_bands(self, road_class: RoadClass) -> SpeedBands:
        return {
            RoadClass.EXPRESSWAY: self.expressway_kmh,
            RoadClass.ARTERIAL: self.arterial_kmh,
            RoadClass.SECONDARY_BRANCH: self.secondary_branch_kmh,
        }[road_class]


def segment_speeds(
    observations: ibis.Table, detector_segments: ibis.Table, *, unhealthy: ibis.Table | None = None
) -> ibis.Table:
    """Speed of each segment per 5-minute interval from its detectors (`roads.detector_observations`
    mapped by `roads.detector_segments`): the mean of its stations' `avg_speed_kmh`. Station-days in
    `unhealthy` (columns station_id, day: `detector_health.detector_health` flags) are left out.

    Columns: segment_id, observed_at, speed_kmh."""
    rows = observations.filter(observations.avg_speed_kmh.notnull()).select(
        "station_id", "observed_at", "avg_speed_kmh", day=observations.observed_at.date()
    )
    if unhealthy is not None:
        flagged = unhealthy.select("station_id", "day").distinct()
        rows = rows.anti_join(flagged, ["station_id", "day"])
    joined = rows.join(detector_segments.select("station_id", "segment_id"), "station_id")
    return joined.group_by(["segment_id", "observed_at"]).aggregate(speed_kmh=joined.avg_speed_kmh.mean())


def _bucketed(speeds: ibis.Table, interval_minutes: int) -> ibis.Table:
    """Mean speed of each segment per bucket of `interval_minutes` from the epoch."""
    if interval_minutes <= 0 or interval_minutes % 5:
        raise ValueError(f"interval_minutes must be a positive multiple of 5, got {interval_minutes}")
    bucket_s = interval_minutes * 60
    epoch_s = speeds.observed_at.epoch_seconds().cast("int64")
    rows = speeds.mutate(
        interval_start=((epoch_s // bucket_s) * bucket_s).as_timestamp("s").cast(dt.Timestamp(timezone="UTC"))
    )
    return rows.group_by(["segment_id", "interval_start"]).aggregate(speed_kmh=rows.speed_kmh.mean())


def _speed_level(speed: ibis.Value, road_class: ibis.Value, thresholds: CongestionThresholds) -> ibis.Value:
    branches = []
    for road in RoadClass:
        bands = thresholds.speed_bands(road)
        for level, bound in zip(LEVELS, bands, strict=False):
            branches.append(((road_class == road.value) & (speed > bound), level))
        branches.append((road_class == road.value, LEVELS[-1]))
    return ibis.cases(*branches, else_=ibis.null(dt.string))


def segment_levels(
    speeds: ibis.Table, segments: ibis.Table, *, thresholds: CongestionThresholds, interval_minutes: int = 5
) -> ibis.Table:
    """Operating level (运行等级) of each segment per interval, from its mean speed and road class.

    Columns: segment_id, interval_start (UTC), road_class, speed_kmh, level (`LEVELS`); ordered by segment
    and interval."""
    bucketed = _bucketed(speeds, interval_minutes)
    joined = bucketed.join(segments.select("segment_id", "road_class"), "segment_id")
    return joined.select(
        "segment_id",
        "interval_start",
        "road_class",
        speed_kmh=joined.speed_kmh.round(DECIMALS),
        level=_speed_level(joined.speed_kmh, joined.road_class, thresholds),
    ).order_by(["segment_id", "interval_start"])


def tpi(
    speeds: ibis.Table,
    segments: ibis.Table,
    *,
    scope: Scope,
    interval_minutes: int,
    thresholds: CongestionThresholds,
) -> ibis.Table:
    """DTP and TPI of each unit of `scope` per interval of `interval_minutes` (5 or 15).

    `speeds`: segment_id, observed_at, speed_kmh (`segment_speeds`); `segments`: `roads.segments`.
    Columns: scope_id (`network`, a district code or a corridor id), interval_start (UTC), segments
    (reporting), length_km (of those), dtp, tpi, level (`LEVELS`, from DTP); ordered by scope_id, interval."""
    column = SCOPE_COLUMN[scope]
    bucketed = _bucketed(speeds, interval_minutes)
    network = segments.select(
        "segment_id",
        "length_m",
        "free_flow_speed_kmh",
        scope_id=ibis.literal("network") if column is None else segments[column],
    ).filter(lambda s: s.scope_id.notnull() & (s.length_m > 0))
    joined = bucketed.join(network, "segment_id")
    free = joined.free_flow_speed_kmh
    speed = ibis.greatest(ibis.least(joined.speed_kmh, free), thresholds.min_speed_kmh)
    joined = joined.mutate(actual_h=joined.length_m / 1000 / speed, free_h=joined.length_m / 1000 / free)
    totals = joined.group_by(["scope_id", "interval_start"]).aggregate(
        segments=joined.segment_id.nunique(),
        length_km=(joined.length_m.sum() / 1000).round(DECIMALS),
        dtp=((joined.actual_h.sum() - joined.free_h.sum()) / joined.actual_h.sum()).round(DECIMALS),
    )
    return totals.mutate(
        tpi=_tpi_of_dtp(totals.dtp, thresholds).round(DECIMALS),
        level=_dtp_level(totals.dtp, thresholds),
    ).order_by(["scope_id", "interval_start"])


def _tpi_of_dtp(dtp: ibis.Value, thresholds: CongestionThresholds) -> ibis.Value:
    bounds = (0.0, *thresholds.dtp_bounds, 1.0)
    branches = [
        (dtp < high, TPI_BANDS[i] + (dtp - low) * (TPI_BANDS[i + 1] - TPI_BANDS[i]) / (high - low))
        for i, (low, high) in enumerate(itertools.pairwise(bounds))
    ]
    return ibis.cases(*branches, else_=ibis.literal(TPI_BANDS[-1]))


def _dtp_level(dtp: ibis.Value, thresholds: CongestionThresholds) -> ibis.Value:
    branches = [(dtp < bound, level) for level, bound in zip(LEVELS, thresholds.dtp_bounds, strict=False)]
    return ibis.cases(*branches, else_=ibis.literal(LEVELS[-1]))
