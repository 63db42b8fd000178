"""Detector health (检测器健康): quality rules that flag a station's day as stuck, zero, out of range or
missing, so that congestion and forecasts leave it out, and alerts that tell operators.

Pure Ibis over `roads.detector_observations` (the same expressions on DuckDB and Spark). A run is a stretch
of consecutive 5-minute intervals of one station (a gap in the reports ends it); a run is counted on the UTC
day it starts. Limits come in a `HealthRules`; the defaults are this project's, not a standard's.

| reason | the station's day is flagged when |
|---|---|
| `stuck` | the same nonzero flow and occupancy repeat over `stuck_intervals` intervals or more |
| `zero` | zero flow with an occupancy reported (zero or not) over `zero_intervals` in local daytime |
| `out_of_range` | an interval has flow, occupancy or speed beyond the plausible maxima (or below zero) |
| `missing` | no report within a UTC day, or reports without values, for `missing_intervals` or more |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

INTERVAL_S = 300
REASONS = ("stuck", "zero", "out_of_range", "missing")
REASON_TITLES = {
    "stuck": ("检测器数据僵死", "detector stuck"),
    "zero": ("检测器零值异常", "detector reports zeros"),
    "out_of_range": ("检测器数值越界", "detector values out of range"),
    "missing": ("检测器数据缺失", "detector data missing"),
}


class HealthRules(BaseModel):
    """Limits of the detector health rules (project defaults for 5-minute freeway stations; configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stuck_intervals: int = Field(default=12, ge=2, description="Repeats of one nonzero value that are stuck.")
    zero_intervals: int = Field(default=12, ge=1, description="Daytime zero-flow intervals that are a fault.")
    missing_intervals: int = Field(default=12, ge=1, description="Intervals without data that are a fault.")
    max_total_flow: int = Field(default=1_250, gt=0, description="Most vehicles in 5 minutes, all lanes.")
    max_occupancy: float = Field(default=0.9, gt=0, le=1, description="Highest plausible mean occupancy.")
    max_speed_kmh: float = Field(default=160.0, gt=0, description="Highest plausible mean speed, km/h.")
    utc_offset_minutes: int = Field(
        default=-420, description="Local time minus UTC for daytime (PeMS in October: PDT, -420)."
    )
    day_start_hour: int = Field(default=6, ge=0, le=23, description="Local daytime starts (hour).")
    day_end_hour: int = Field(default=22, ge=1, le=24, description="Local daytime ends (hour, exclusive).")


def detector_health(observations: ibis.Table, *, rules: HealthRules) -> ibis.Table:
    """Flags of unhealthy station-days. Columns: station_id, day (UTC date), reason (`REASONS`), intervals
    (the longest run, or for `out_of_range` the count of bad intervals); ordered by station, day, reason."""
    epoch_s = observations.observed_at.epoch_seconds().cast("int64")
    series = observations.select(
        "station_id", "observed_at", "total_flow", "avg_occupancy", "avg_speed_kmh", epoch_s=epoch_s
    )
    by_station = ibis.window(group_by=series.station_id, order_by=series.epoch_s)
    series = series.mutate(
        previous_epoch_s=series.epoch_s.lag().over(by_station),
        previous_flow=series.total_flow.lag().over(by_station),
        previous_occupancy=series.avg_occupancy.lag().over(by_station),
    )
    local_minute = ((series.epoch_s + rules.utc_offset_minutes * 60) % 86_400) // 60
    daytime = (local_minute >= rules.day_start_hour * 60) & (local_minute < rules.day_end_hour * 60)
    series = series.mutate(
        contiguous=(series.epoch_s - series.previous_epoch_s == INTERVAL_S).fill_null(False),
        zero=(daytime & (series.total_flow == 0) & series.avg_occupancy.notnull()).fill_null(False),
        empty=series.total_flow.isnull() & series.avg_occupancy.isnull() & series.avg_speed_kmh.isnull(),
        gap_intervals=ibis.ifelse(
            series.epoch_s // 86_400 == series.previous_epoch_s // 86_400,
            (series.epoch_s - series.previous_epoch_s) // INTERVAL_S - 1,
            0,
        ).fill_null(0),
        bad=(
            (series.total_flow > rules.max_total_flow)
            | (series.total_flow < 0)
            | (series.avg_occupancy > rules.max_occupancy)
            | (series.avg_occupancy < 0)
            | (series.avg_speed_kmh > rules.max_speed_kmh)
            | (series.avg_speed_kmh < 0)
        ).fill_null(False),
    )
    series = series.mutate(
        repeat=(
            series.contiguous
            & (series.total_flow > 0)
            & (series.total_flow == series.previous_flow)
            & (series.avg_occupancy == series.previous_occupancy)
        ).fill_null(False),
        zero_on=series.zero & series.zero.lag().over(by_station).fill_null(False) & series.contiguous,
        empty_on=series.empty & series.empty.lag().over(by_station).fill_null(False) & series.contiguous,
    )
    so_far = ibis.window(group_by=series.station_id, order_by=series.epoch_s, rows=(None, 0))
    series = series.mutate(
        stuck_run=(~series.repeat).cast("int64").sum().over(so_far),
        zero_run=(~series.zero_on).cast("int64").sum().over(so_far),
        empty_run=(~series.empty_on).cast("int64").sum().over(so_far),
    )
    bad = series.filter(series.bad)
    flags = [
        _runs(series, "stuck_run", series.total_flow > 0, "stuck", rules.stuck_intervals),
        _runs(series, "zero_run", series.zero, "zero", rules.zero_intervals),
        _runs(series, "empty_run", series.empty, "missing", rules.missing_intervals),
        series.filter(series.gap_intervals >= rules.missing_intervals).select(
            "station_id",
            day=series.observed_at.date(),
            reason=ibis.literal("missing"),
            intervals=series.gap_intervals.cast("int64"),
        ),
        bad.group_by(["station_id", bad.observed_at.date().name("day")])
        .aggregate(intervals=bad.count())
        .select("station_id", "day", reason=ibis.literal("out_of_range"), intervals="intervals"),
    ]
    union = ibis.union(*flags)
    return (
        union.group_by(["station_id", "day", "reason"])
        .aggregate(intervals=union.intervals.max())
        .order_by(["station_id", "day", "reason"])
    )


def _runs(series: ibis.Table, run: str, member: ibis.Value, reason: str, least: int) -> ibis.Table:
    """Runs (by the id column `run`) of rows where `member` holds, at least `least` long."""
    members = series.filter(member)
    runs = members.group_by(["station_id", run]).aggregate(
        started_at=members.observed_at.min(), intervals=members.count()
    )
    return runs.filter(runs.intervals >= least).select(
        "station_id",
        day=runs.started_at.date(),
        reason=ibis.literal(reason),
        intervals=runs.intervals.cast("int64"),
    )


@dataclass(frozen=True, kw_only=True)
class DetectorAlert:
    """An alert (告警) for operators: one station, day and reason."""

    station_id: int
    day: date
    reason: str
    intervals: int
    title_zh: str
    title_en: str


def detector_alerts(flags: pa.Table) -> list[DetectorAlert]:
    """One alert per flag of `detector_health` (as Arrow), in its order."""
    return [
        DetectorAlert(
            station_id=row["station_id"],
            day=row["day"],
            reason=row["reason"],
            intervals=row["intervals"],
            title_zh=REASON_TITLES[row["reason"]][0],
            title_en=REASON_TITLES[row["reason"]][1],
        )
        for row in flags.to_pylist()
    ]
