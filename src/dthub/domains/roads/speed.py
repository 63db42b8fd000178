"""Detector speeds (检测器车速): daily means per station and corridor speed profiles (走廊速度剖面).

Pure functions of Ibis tables (`roads.detector_observations`, `roads.detector_stations`): no I/O, the same
expressions on DuckDB and on Spark. Float outputs are rounded to `DECIMALS` places, so that both engines
return identical results although they add floats in different orders.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

DECIMALS = 3
"""Decimal places of every float the jobs return."""

MAINLINE = "ML"
"""PeMS lane type of mainline (主线) stations."""


def daily_mean_speed(observations: ibis.Table) -> ibis.Table:
    """Mean speed (日均车速) of each station and UTC day.

    Columns: station_id, day (UTC date), mean_speed_kmh (mean of the 5-minute avg_speed_kmh), intervals
    (5-minute intervals with a speed); ordered by station and day."""
    day = observations.observed_at.date().name("day")
    return (
        observations.group_by([observations.station_id, day])
        .aggregate(
            mean_speed_kmh=observations.avg_speed_kmh.mean().round(DECIMALS),
            intervals=observations.avg_speed_kmh.count(),
        )
        .order_by(["station_id", "day"])
    )


def corridor_speed_profile(
    observations: ibis.Table,
    stations: ibis.Table,
    *,
    bucket_minutes: int = 15,
    drop_kmh: float = 20.0,
    max_gap_minutes: int = 5,
) -> ibis.Table:
    """Speed profile of each corridor (freeway and direction) per time bucket (时间片), mainline only.

    A sharp drop (急剧降速) is an interval whose speed is more than `drop_kmh` below the station's previous
    interval, when that interval is at most `max_gap_minutes` earlier (so a gap in the series is no drop).

    Columns: freeway, direction, bucket_start (UTC, buckets of `bucket_minutes` from the epoch),
    flow_weighted_speed_kmh (流量加权平均车速: sum(flow × speed) / sum(flow) over intervals with both),
    total_flow (all intervals), stations_reporting (stations with a speed), sharp_drops; ordered by
    freeway, direction and bucket_start."""
    if bucket_minutes <= 0:
        raise ValueError(f"bucket_minutes must be positive, got {bucket_minutes}")
    bucket_s = bucket_minutes * 60
    mainline = stations.filter(stations.lane_type == MAINLINE).select("station_id", "freeway", "direction")
    series = observations.select(
        "station_id",
        "total_flow",
        "avg_speed_kmh",
        epoch_s=observations.observed_at.epoch_seconds().cast("int64"),
    ).join(mainline, "station_id")
    previous = ibis.window(group_by=series.station_id, order_by=series.epoch_s)
    series = series.mutate(
        previous_speed_kmh=series.avg_speed_kmh.lag().over(previous),
        previous_epoch_s=series.epoch_s.lag().over(previous),
    )
    series = series.mutate(
        sharp_drop=(
            (series.previous_speed_kmh - series.avg_speed_kmh > drop_kmh)
            & (series.epoch_s - series.previous_epoch_s <= max_gap_minutes * 60)
        ).fill_null(False),
        bucket_start=((series.epoch_s // bucket_s) * bucket_s)
        .as_timestamp("s")
        .cast(dt.Timestamp(timezone="UTC")),
        weighted=series.total_flow * series.avg_speed_kmh,
    )
    with_speed = series.avg_speed_kmh.notnull()
    flow_with_speed = series.total_flow.sum(where=with_speed)
    return (
        series.group_by(["freeway", "direction", "bucket_start"])
        .aggregate(
            flow_weighted_speed_kmh=(series.weighted.sum() / flow_with_speed.nullif(0)).round(DECIMALS),
            total_flow=series.total_flow.sum(),
            stations_reporting=series.station_id.nunique(where=with_speed),
            sharp_drops=series.count(where=series.sharp_drop),
        )
        .order_by(["freeway", "direction", "bucket_start"])
    )
