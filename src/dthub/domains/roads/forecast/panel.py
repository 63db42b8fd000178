"""The hub's own speeds as a forecasting panel (预测输入): segment x time grid from the lake, and its lineage.

Segment speeds are the congestion job's (`congestion.segment_speeds`): detector observations mapped to
segments, station-days that `detector_health` flags left out, the mean of a segment's stations per 5-minute
interval; here averaged again per step of the panel (5 or 15 minutes). Health is judged over whole UTC days,
as the TPI routes do, even when the panel starts or ends within a day.

The I/O is at the edge (`segment_panel`, `lake_inputs`, `segment_districts`); the pivot onto the grid and the
road graph from segment geometry are pure (`pivot`, `adjacency_from_geometry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select

from dthub.domains.roads.congestion import segment_speeds
from dthub.domains.roads.datasets import DETECTOR_OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS
from dthub.domains.roads.detector_health import HealthRules, detector_health
from dthub.domains.roads.forecast.base import ForecastError, SpeedPanel
from dthub.hub import engine, lake
from dthub.hub.core import Hub
from dthub.hub.tables import BatchRow, LakeFileRow

DAY = timedelta(days=1)
INPUT_DATASETS = (DETECTOR_OBSERVATIONS.id, DETECTOR_SEGMENTS.id)
"""Datasets a panel is read from, and so the lineage of a model trained on it."""


@dataclass(frozen=True, kw_only=True)
class LakeInput:
    """One committed lake batch a panel read rows of: its dataset and how many of its files."""

    batch_id: str
    dataset_id: str
    files: int


def aligned(moment: datetime, step: timedelta) -> datetime:
    """`moment` (aware) floored to a whole number of steps since the epoch, in UTC."""
    if moment.tzinfo is None:
        raise ForecastError("bad_time", f"{moment!r} has no time zone; the hub works in UTC")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment.astimezone(UTC) - epoch) // step) * step


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def segment_panel(
    hub: Hub,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    nodes: Sequence[str] | None = None,
    rules: HealthRules | None = None,
) -> SpeedPanel:
    """Segment speeds of [start, end) on a grid of `step`, one column per segment.

    `nodes` fixes the columns (a fitted model's segments; a segment without data is all NaN); without
    it, every segment with a speed in the window, sorted. `start` and `end` must lie on the grid."""
    if step <= timedelta(0) or step % timedelta(minutes=5):
        raise ForecastError("bad_step", f"step must be a positive multiple of 5 minutes, got {step}")
    if aligned(start, step) != start or aligned(end, step) != end or not start < end:
        raise ForecastError("bad_window", f"want start < end, both on the {step} grid; got {start}, {end}")
    con = hub.connect()
    try:
        observations = hub.table(DETECTOR_OBSERVATIONS.id, con)
        first_day = aligned(start, DAY)
        last_day = aligned(end - timedelta(microseconds=1), DAY) + DAY
        days = observations.filter(
            (observations.observed_at >= _naive(first_day)) & (observations.observed_at < _naive(last_day))
        )
        flags = detector_health(days, rules=rules or HealthRules())
        window = days.filter((days.observed_at >= _naive(start)) & (days.observed_at < _naive(end)))
        speeds = segment_speeds(window, hub.table(DETECTOR_SEGMENTS.id, con), unhealthy=flags)
        rows = engine.to_arrow(_per_step(speeds, start, step))
        columns = tuple(nodes) if nodes is not None else tuple(sorted(set(rows["segment_id"].to_pylist())))
        geometry = _geometries(hub, con, columns)
    finally:
        con.disconnect()
    n_steps = (end - start) // step
    return SpeedPanel(
        values=pivot(rows, columns, n_steps),
        step=step,
        start=start.astimezone(UTC),
        nodes=columns,
        adjacency=adjacency_from_geometry([geometry.get(node) for node in columns]),
    )


def _per_step(speeds: ibis.Table, start: datetime, step: timedelta) -> ibis.Table:
    """Mean speed of each segment per row of the grid: columns segment_id, row (int64), speed_kmh."""
    start_s = int(start.timestamp())
    epoch_s = speeds.observed_at.epoch_seconds().cast("int64")
    rows = speeds.mutate(row=(epoch_s - start_s) // int(step.total_seconds()))
    return rows.group_by(["segment_id", "row"]).aggregate(speed_kmh=rows.speed_kmh.mean())


def pivot(rows: pa.Table, nodes: Sequence[str], n_steps: int) -> np.ndarray:
    """(n_steps, len(nodes)) float64 of `rows` (segment_id, row, speed_kmh); NaN where no row, and rows of
    segments not in `nodes` or outside the grid ignored."""
    values = np.full((n_steps, len(nodes)), np.nan, dtype=np.float64)
    if rows.num_rows == 0 or not nodes:
        return values
    found = pc.index_in(rows["segment_id"], value_set=pa.array(list(nodes), pa.string()))
    columns = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    steps = rows["row"].to_numpy(zero_copy_only=False).astype(np.int64)
    speeds = rows["speed_kmh"].to_numpy(zero_copy_only=False).astype(np.float64)
    keep = (columns >= 0) & (steps >= 0) & (steps < n_steps)
    values[steps[keep], columns[keep]] = speeds[keep]
    return values


def _geometries(hub: Hub, con: Any, nodes: Sequence[str]) -> dict[str, str]:
    return {segment: wkt for segment, (wkt, _) in _attributes(hub, con, nodes).items() if wkt}


def _attributes(hub: Hub, con: Any, nodes: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """(geometry WKT, district code) of each segment of `nodes` in `roads.segments`. The table is read
    whole and filtered here: an `isin` of thousands of ids costs seconds of Ibis compilation."""
    segments = hub.table(SEGMENTS.id, con)
    found = engine.to_arrow(segments.select("segment_id", "geometry_wkt", "district_code"))
    wanted = set(nodes)
    return {
        segment: (wkt, district)
        for segment, wkt, district in zip(
            found["segment_id"].to_pylist(),
            found["geometry_wkt"].to_pylist(),
            found["district_code"].to_pylist(),
            strict=True,
        )
        if segment in wanted
    }


def adjacency_from_geometry(lines: Sequence[str | None]) -> np.ndarray | None:
    """The road graph of directed segments: weight 1 from a to b (and b to a, the graph is symmetric, as
    T-GCN's is) where a ends where b starts, WKT LineString endpoints compared to 1e-6 degrees (about
    0.1 m). None when no segment has a geometry."""
    ends: list[tuple[tuple[float, float], tuple[float, float]] | None] = [_endpoints(line) for line in lines]
    if all(item is None for item in ends):
        return None
    starting: dict[tuple[float, float], list[int]] = {}
    for index, item in enumerate(ends):
        if item is not None:
            starting.setdefault(item[0], []).append(index)
    graph = np.zeros((len(lines), len(lines)), dtype=np.float64)
    for index, item in enumerate(ends):
        for following in starting.get(item[1], []) if item is not None else []:
            if following != index:
                graph[index, following] = graph[following, index] = 1.0
    return graph


def _endpoints(wkt: str | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """First and last point of a WKT LineString, rounded to 1e-6 degrees; None when there is none."""
    if not wkt or not wkt.upper().startswith("LINESTRING"):
        return None
    inside = wkt[wkt.index("(") + 1 : wkt.rindex(")")]
    points = [part.split() for part in inside.split(",")]
    if len(points) < 2:
        return None
    first, last = points[0], points[-1]
    return (
        (round(float(first[0]), 6), round(float(first[1]), 6)),
        (round(float(last[0]), 6), round(float(last[1]), 6)),
    )


def lake_inputs(hub: Hub, *, start: datetime, end: datetime) -> list[LakeInput]:
    """The committed batches a panel of [start, end) reads: files of `roads.detector_observations` in the
    window's UTC days (a day with any overlap, as the health rules read whole days) and every file of
    `roads.detector_segments`."""
    first = aligned(start, DAY).date()
    days = (aligned(end - timedelta(microseconds=1), DAY).date() - first).days + 1
    partitions = [lake.partition_name(first + timedelta(days=n)) for n in range(days)]
    query = (
        select(LakeFileRow.batch_id, LakeFileRow.dataset_id, func.count(LakeFileRow.id))
        .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
        .where(
            BatchRow.status == "committed",
            ((LakeFileRow.dataset_id == DETECTOR_OBSERVATIONS.id) & LakeFileRow.partition.in_(partitions))
            | (LakeFileRow.dataset_id == DETECTOR_SEGMENTS.id),
        )
        .group_by(LakeFileRow.batch_id, LakeFileRow.dataset_id)
        .order_by(LakeFileRow.dataset_id, LakeFileRow.batch_id)
    )
    with hub.store.session() as session:
        return [
            LakeInput(batch_id=batch, dataset_id=dataset, files=int(files))
            for batch, dataset, files in session.execute(query)
        ]


def latest_observation(hub: Hub) -> datetime | None:
    """Start of the latest interval of `roads.detector_observations` in the lake (from the manifest)."""
    query = (
        select(func.max(LakeFileRow.max_time))
        .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
        .where(BatchRow.status == "committed", LakeFileRow.dataset_id == DETECTOR_OBSERVATIONS.id)
    )
    with hub.store.session() as session:
        latest = session.scalar(query)
    if latest is None:
        return None
    return latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest.astimezone(UTC)


def segment_districts(hub: Hub, nodes: Sequence[str]) -> dict[str, str]:
    """District code (行政区划代码) of each segment of `nodes` that has one in `roads.segments`."""
    con = hub.connect()
    try:
        found = _attributes(hub, con, nodes)
    finally:
        con.disconnect()
    return {segment: district for segment, (_, district) in found.items() if district}
