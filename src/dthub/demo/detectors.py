"""Simulated detectors (模拟检测器) on the demo network and their 5-minute observations.

Every expressway segment and every third other segment has a detector station (ids from 912_00001). Its
speed follows a daily profile in Beijing time: free flow at night, a morning peak around 07:45 and an
evening peak around 17:45, deeper on expressways and towards the centre, so that congestion levels and
the TPI move through the day. Flow follows demand, occupancy follows density. Each interval is drawn from
a generator seeded by (seed, interval), so any interval can be made again, alone, identically.

Observations travel as headerless CSV lines `station_id,observed_at,total_flow,avg_occupancy,
avg_speed_kmh` through the `sim.detector_5min` adapter into `roads.detector_observations`; the station →
segment map as `station_id,segment_id` through `sim.detector_segments` into `roads.detector_segments`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import pyarrow as pa

from dthub.demo.city import Network, Segment
from dthub.domains.roads.datasets import DETECTOR_OBSERVATIONS, DETECTOR_SEGMENTS
from dthub.hub.adapter import LOCATION, LineText, Parsed, Rejected

FIRST_STATION = 912_00001
INTERVAL = timedelta(minutes=5)
BEIJING = timedelta(hours=8)
VEHICLE_SPACE_KM = 0.0065
"""Effective vehicle length plus detector zone, km: occupancy = density × this / lanes."""
LANE_CAPACITY_PER_H = {"expressway": 1_800, "arterial": 900, "secondary_branch": 600}


@dataclass(frozen=True, kw_only=True)
class Detector:
    """A simulated detector station on one segment."""

    station_id: int
    segment_index: int
    segment: Segment
    peak_depth: float
    """Share of free-flow speed lost at the height of a peak."""


def place_detectors(network: Network, *, seed: int = 7) -> tuple[Detector, ...]:
    """Detector stations of the network: on every expressway segment and every third other one."""
    rng = np.random.default_rng([seed, 1])
    detectors: list[Detector] = []
    for index, segment in enumerate(network.segments):
        if segment.kind.road_class != "expressway" and index % 3:
            continue
        lon, lat = segment.coords[len(segment.coords) // 2]
        central = max(0.0, 1 - math.hypot((lon - 117.2) * 86.4, (lat - 39.125) * 111.2) / 12)
        base = 0.45 if segment.kind.road_class == "expressway" else 0.35
        depth = min(0.75, base + 0.25 * central + float(rng.uniform(-0.08, 0.12)))
        detectors.append(
            Detector(
                station_id=FIRST_STATION + len(detectors),
                segment_index=index,
                segment=segment,
                peak_depth=round(depth, 3),
            )
        )
    return tuple(detectors)


def peak_share(local_hour: float) -> float:
    """How far into a peak the city is at a local hour, 0 (night) to 1 (the height of a peak)."""
    morning = math.exp(-(((local_hour - 7.75) / 0.9) ** 2))
    evening = math.exp(-(((local_hour - 17.75) / 1.1) ** 2))
    midday = 0.35 * math.exp(-(((local_hour - 12.5) / 2.5) ** 2))
    return min(1.0, morning + evening + midday)


def demand_share(local_hour: float) -> float:
    """Traffic demand as a share of capacity at a local hour."""
    night = 0.08 + 0.25 * math.exp(-(((local_hour - 13) / 6) ** 2))
    return min(0.95, night + 0.6 * peak_share(local_hour))


def interval_start(moment: datetime) -> datetime:
    """Start of the 5-minute interval holding `moment`, UTC."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def observations(detectors: Sequence[Detector], start: datetime, *, seed: int = 7) -> list[str]:
    """CSV lines of every detector for the interval starting at `start` (UTC)."""
    start = interval_start(start)
    number = int(start.timestamp()) // 300
    rng = np.random.default_rng([seed, number])
    noise = rng.normal(0.0, 0.04, size=(len(detectors), 2))
    local = start + BEIJING
    hour = local.hour + local.minute / 60 + 2.5 / 60
    peak, demand = peak_share(hour), demand_share(hour)
    stamp = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for detector, (speed_noise, flow_noise) in zip(detectors, noise, strict=True):
        kind = detector.segment.kind
        speed = kind.free_flow_speed_kmh * (1 - detector.peak_depth * peak) * (1 + speed_noise)
        speed = max(5.0, min(speed, kind.speed_limit_kmh * 1.1))
        hourly = LANE_CAPACITY_PER_H[kind.road_class] * kind.lanes * demand * (1 + flow_noise)
        flow = max(1, round(hourly / 12))
        occupancy = min(0.85, hourly / speed * VEHICLE_SPACE_KM / kind.lanes)
        lines.append(f"{detector.station_id},{stamp},{flow},{occupancy:.4f},{speed:.2f}")
    return lines


def backfill(detectors: Sequence[Detector], start: datetime, end: datetime, *, seed: int = 7) -> list[str]:
    """CSV lines of every interval from `start` up to (not including) the interval holding `end`."""
    lines: list[str] = []
    moment, last = interval_start(start), interval_start(end)
    while moment < last:
        lines += observations(detectors, moment, seed=seed)
        moment += INTERVAL
    return lines


def segment_map(detectors: Sequence[Detector]) -> list[str]:
    """CSV lines `station_id,segment_id` (the hub's segment id)."""
    return [f"{d.station_id},{d.segment.hub_id}" for d in detectors]


def _numbers(raw: str, count: int) -> list[str]:
    fields = raw.split(",")
    if len(fields) != count:
        raise ValueError(f"want {count} fields, got {len(fields)}")
    return fields


class SimDetectorObservations(LineText):
    """Simulated detector CSV lines → `roads.detector_observations` (lanes not reported)."""

    name: ClassVar[str] = "sim.detector_5min"
    dataset: ClassVar[str] = "roads.detector_observations"

    def parse(self, data: bytes) -> Parsed:
        names = ("station_id", "observed_at", "total_flow", "avg_occupancy", "avg_speed_kmh", LOCATION)
        columns: dict[str, list[object]] = {name: [] for name in names}
        rejected, skipped = [], 0
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
            raw = line.rstrip("\r")
            if not raw.strip():
                skipped += 1
                continue
            try:
                station, at, flow, occupancy, speed = _numbers(raw, 5)
                row = (int(station), datetime.fromisoformat(at).astimezone(UTC), int(flow),
                       float(occupancy), float(speed))  # fmt: skip
            except ValueError as error:
                rejected.append(Rejected(reason="sim.bad_line", detail=str(error), location=number, raw=raw))
                continue
            for name, value in zip(columns, (*row, number), strict=True):
                columns[name].append(value)
        count = len(columns[LOCATION])
        table = {field.name: pa.nulls(count, field.type) for field in DETECTOR_OBSERVATIONS.schema}
        for name in ("station_id", "observed_at", "total_flow", "avg_occupancy", "avg_speed_kmh"):
            table[name] = pa.array(columns[name], DETECTOR_OBSERVATIONS.schema.field(name).type)
        table["samples"] = pa.array([10] * count, pa.int32())
        table["observed_pct"] = pa.array([100.0] * count, pa.float64())
        rows = pa.table(table | {LOCATION: pa.array(columns[LOCATION], pa.int64())})
        return Parsed(rows=rows, rejected=tuple(rejected), skipped=skipped)


class SimDetectorSegments(LineText):
    """Simulated `station_id,segment_id` lines → `roads.detector_segments` (method `declared`)."""

    name: ClassVar[str] = "sim.detector_segments"
    dataset: ClassVar[str] = "roads.detector_segments"

    def parse(self, data: bytes) -> Parsed:
        stations: list[int] = []
        segments: list[str] = []
        locations: list[int] = []
        rejected, skipped = [], 0
        for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
            raw = line.rstrip("\r")
            if not raw.strip():
                skipped += 1
                continue
            try:
                station, segment = _numbers(raw, 2)
                stations.append(int(station))
            except ValueError as error:
                rejected.append(Rejected(reason="sim.bad_line", detail=str(error), location=number, raw=raw))
                continue
            segments.append(segment.strip())
            locations.append(number)
        schema = DETECTOR_SEGMENTS.schema
        rows = pa.table(
            {
                "station_id": pa.array(stations, schema.field("station_id").type),
                "segment_id": pa.array(segments, pa.string()),
                "method": pa.array(["declared"] * len(stations), pa.string()),
                LOCATION: pa.array(locations, pa.int64()),
            }
        )
        return Parsed(rows=rows, rejected=tuple(rejected), skipped=skipped)
