"""What the console shows of road traffic (交通运行): segments on the map coloured by their operating
level, segment and corridor speeds, and forecast speeds against the speeds measured.

Everything is the roads jobs (`domains.roads.congestion`, GB/T 33171 levels) over the lake as it is; a
segment is drawn only when the lake holds its geometry, and coloured only when a detector measured it in
the latest 5-minute interval. Forecasts are read from `roads.segment_forecasts` when the registry declares
it and the forecast job wrote rows there; otherwise there is nothing to show and the page says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
from shapely import wkt  # type: ignore[import-untyped]

from dthub.domains.roads.api import HEALTH, THRESHOLDS
from dthub.domains.roads.congestion import LEVEL_ZH, segment_levels, segment_speeds
from dthub.domains.roads.detector_health import detector_health
from dthub.hub import catalog, engine
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer

OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS = (
    "roads.detector_observations",
    "roads.detector_segments",
    "roads.segments",
)
FORECASTS = "roads.segment_forecasts"
LEVEL_INTERVAL = timedelta(minutes=5)
MAP_SEGMENTS = 50_000
"""Most segments drawn on one map."""
FORECAST_ISSUES = 500
"""How many of the latest forecast issues are considered for the comparison."""
LEVEL_COLOURS = {
    "free": "#2e9d4f",
    "basically_free": "#8cc152",
    "light": "#f2b200",
    "moderate": "#f07b26",
    "severe": "#d0312d",
}
"""Colours of the five operating levels (畅通 … 严重拥堵), green to red as traffic maps draw them."""
NO_DATA_COLOUR = "#9aa5b1"


def cleared(hub: Hub, me: Consumer, *dataset_ids: str) -> bool:
    """Whether the person's clearance reaches every dataset named (the roads data holds no PII)."""
    specs = [hub.registry.datasets[name] for name in dataset_ids if name in hub.registry.datasets]
    return len(specs) == len(dataset_ids) and all(me.clearance.rank >= spec.level.rank for spec in specs)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def latest_observation(hub: Hub) -> datetime | None:
    figures = catalog.figures(hub.store, [OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS])
    if figures[DETECTOR_SEGMENTS].rows == 0 or figures[SEGMENTS].rows == 0:
        return None
    return figures[OBSERVATIONS].latest_event_at


def _speeds(hub: Hub, con: Any, start: datetime, end: datetime) -> ibis.Table:
    observations = hub.table(OBSERVATIONS, con)
    observations = observations.filter(
        (observations.observed_at >= _naive(start)) & (observations.observed_at < _naive(end))
    )
    flags = detector_health(observations, rules=HEALTH)
    return segment_speeds(observations, hub.table(DETECTOR_SEGMENTS, con), unhealthy=flags)


def detector_sources(hub: Hub) -> list[str]:
    """Where the detector speeds come from, by the segments the detectors are mapped to: `pems` (real
    Caltrans PeMS stations), `simulated` (the demo city's `tjsim-` segments), `other`."""
    if catalog.figures(hub.store, [DETECTOR_SEGMENTS])[DETECTOR_SEGMENTS].rows == 0:
        return []
    mapped = hub.table(DETECTOR_SEGMENTS, hub.connect()).select("segment_id").distinct()
    found = set()
    for segment in engine.to_arrow(mapped)["segment_id"].to_pylist():
        found.add("pems" if segment.startswith("pems:") else "simulated" if "tjsim-" in segment else "other")
    return sorted(found)


@dataclass(frozen=True, kw_only=True)
class Levels:
    """Each measured segment's speed and level in the latest 5-minute interval, with its declaration."""

    interval_start: datetime
    segments: list[dict[str, Any]]
    """segment_id, name, road_class, corridor_id, length_m, speed_kmh, level, level_zh; slowest first."""

    def corridors(self) -> list[dict[str, Any]]:
        """Length-weighted mean speed per corridor over its measured segments, slowest first."""
        length: dict[str, float] = defaultdict(float)
        weighted: dict[str, float] = defaultdict(float)
        count: dict[str, int] = defaultdict(int)
        for row in self.segments:
            corridor = row["corridor_id"] or row["name"]
            if not corridor:
                continue
            length[corridor] += row["length_m"]
            weighted[corridor] += row["length_m"] * row["speed_kmh"]
            count[corridor] += 1
        rows = [
            {"corridor_id": name, "segments": count[name], "length_km": round(length[name] / 1000, 2),
             "speed_kmh": round(weighted[name] / length[name], 1)}
            for name in length
            if length[name] > 0
        ]  # fmt: skip
        return sorted(rows, key=lambda row: (row["speed_kmh"], row["corridor_id"]))


def latest_levels(hub: Hub) -> Levels | None:
    """The levels of the latest interval with detector data; None when the lake lacks the data."""
    latest = latest_observation(hub)
    if latest is None:
        return None
    start = latest.astimezone(UTC).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    con = hub.connect()
    segments = hub.table(SEGMENTS, con)
    levels = segment_levels(_speeds(hub, con, start, start + LEVEL_INTERVAL), segments, thresholds=THRESHOLDS)
    declared = segments.select("segment_id", "name", "corridor_id", "length_m")
    rows = engine.to_arrow(levels.join(declared, "segment_id")).to_pylist()
    found = [
        {
            "segment_id": row["segment_id"],
            "name": row["name"],
            "road_class": row["road_class"],
            "corridor_id": row["corridor_id"],
            "length_m": float(row["length_m"]),
            "speed_kmh": round(float(row["speed_kmh"]), 1),
            "level": row["level"],
            "level_zh": LEVEL_ZH.get(row["level"], row["level"]),
        }
        for row in rows
        if row["level"] is not None
    ]
    found.sort(key=lambda row: (row["speed_kmh"], row["segment_id"]))
    return Levels(interval_start=start, segments=found)


def segment_map(hub: Hub, levels: Levels | None) -> dict[str, Any]:
    """The segments the lake holds a geometry for, as GeoJSON lines coloured by their latest level."""
    by_id = {row["segment_id"]: row for row in (levels.segments if levels else [])}
    con = hub.connect()
    segments = hub.table(SEGMENTS, con)
    drawn = segments.filter(segments.geometry_wkt.notnull() & (segments.geometry_wkt != ""))
    rows = engine.to_arrow(
        drawn.select("segment_id", "name", "road_class", "geometry_wkt").limit(MAP_SEGMENTS)
    ).to_pylist()
    features = []
    for row in rows:
        line = wkt.loads(row["geometry_wkt"])
        level = by_id.get(row["segment_id"])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(point[:2]) for point in line.coords]},
                "properties": {
                    "segment_id": row["segment_id"],
                    "name": row["name"],
                    "road_class": row["road_class"],
                    "speed_kmh": level["speed_kmh"] if level else None,
                    "level": level["level"] if level else None,
                    "colour": LEVEL_COLOURS.get(level["level"], NO_DATA_COLOUR) if level else NO_DATA_COLOUR,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Mean forecast speed of one issue's segments per target interval, against the measured mean."""

    model_id: str
    issued_at: datetime
    step_minutes: int
    segments: int
    times: list[datetime]
    forecast: list[float]
    actual: list[float | None]


def forecast_vs_actual(hub: Hub) -> Comparison | None:
    """The latest forecast issue that overlaps measured data (else the latest issue) of the most recent
    model, compared with the detector speeds of the same segments; None when no forecast exists."""
    if FORECASTS not in hub.registry.datasets:
        return None
    if catalog.figures(hub.store, [FORECASTS])[FORECASTS].rows == 0:
        return None
    con = hub.connect()
    forecasts = hub.table(FORECASTS, con)
    issues = engine.to_arrow(
        forecasts.group_by(["model_id", "issued_at"])
        .aggregate(first=forecasts.target_time.min())
        .order_by(ibis.desc("issued_at"))
        .limit(FORECAST_ISSUES)
    ).to_pylist()
    if not issues:
        return None
    latest = latest_observation(hub)
    overlapping = [i for i in issues if latest is not None and _utc(i["first"]) <= latest]
    issue = (overlapping or issues)[0]
    rows = engine.to_arrow(
        forecasts.filter(
            (forecasts.model_id == issue["model_id"]) & (forecasts.issued_at == issue["issued_at"])
        ).select("segment_id", "target_time", "step_minutes", "speed_kmh")
    ).to_pylist()
    step = int(rows[0]["step_minutes"])
    segments = sorted({row["segment_id"] for row in rows})
    forecast: dict[datetime, list[float]] = defaultdict(list)
    for row in rows:
        forecast[_utc(row["target_time"])].append(float(row["speed_kmh"]))
    times = sorted(forecast)
    actual: dict[datetime, list[float]] = defaultdict(list)
    if latest is not None and times[0] <= latest:
        speeds = _speeds(hub, con, times[0], times[-1] + timedelta(minutes=step))
        measured = engine.to_arrow(speeds.filter(speeds.segment_id.isin(segments))).to_pylist()
        for row in measured:
            at = _utc(row["observed_at"])
            bucket = at - timedelta(minutes=at.minute % step, seconds=at.second, microseconds=at.microsecond)
            actual[bucket].append(float(row["speed_kmh"]))
    return Comparison(
        model_id=str(issue["model_id"]),
        issued_at=_utc(issue["issued_at"]),
        step_minutes=step,
        segments=len(segments),
        times=times,
        forecast=[round(sum(forecast[t]) / len(forecast[t]), 1) for t in times],
        actual=[round(sum(actual[t]) / len(actual[t]), 1) if actual.get(t) else None for t in times],
    )
