"""PeMS mainline stations as road segments (检测器即路段): `roads.segments` and `roads.detector_segments`.

PeMS station files give no coordinates, but each mainline (`ML`) station covers a stretch of its freeway
(`length`, miles), so each stands for one expressway segment of its own, `pems:<station>`, mapped one to one
(`station_as_segment`). Its corridor is `<freeway>-<direction>` (`101-N`), its district the Caltrans district,
its bearing the direction's (N 0°, E 90°, S 180°, W 270°), its geometry empty. Its speed limit and free-flow
speed are the adapter's `speed_limit_kmh` (default 65 mph, the usual California freeway limit). Stations
of other lane types (ramps, HOV, connectors) are skipped. Lines are read and refused as in `pems.stations`.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from dthub.domains.roads.datasets import DETECTOR_SEGMENTS, SEGMENTS
from dthub.domains.roads.ingest.pems import MPH_TO_KMH, PemsStations
from dthub.domains.roads.speed import MAINLINE
from dthub.hub.adapter import LOCATION, Parsed

MILE_M = 1609.344
BEARINGS = {"N": 0.0, "E": 90.0, "S": 180.0, "W": 270.0}


def _mainline(parsed: Parsed) -> tuple[pa.Table, int]:
    rows = parsed.rows
    keep = pc.fill_null(pc.equal(rows["lane_type"], MAINLINE), False)
    kept = rows.filter(keep)
    return kept, parsed.skipped + rows.num_rows - kept.num_rows


def _segment_ids(rows: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise("pems", pc.cast(rows["station_id"], pa.string()), ":")


class PemsStationSegments(PemsStations):
    """PeMS station 5-minute file → `roads.segments`, one expressway segment per mainline station."""

    name: ClassVar[str] = "pems.station_segments"
    dataset: ClassVar[str] = "roads.segments"

    def __init__(
        self, timezone: str = "America/Los_Angeles", speed_limit_kmh: float = 65 * MPH_TO_KMH
    ) -> None:
        super().__init__(timezone)
        self.speed_limit_kmh = round(speed_limit_kmh, 3)

    def parse(self, data: bytes) -> Parsed:
        parsed = super().parse(data)
        rows, skipped = _mainline(parsed)
        n = rows.num_rows
        corridor = pc.binary_join_element_wise(pc.cast(rows["freeway"], pa.string()), rows["direction"], "-")
        columns = {
            "segment_id": _segment_ids(rows),
            "name": corridor,
            "road_class": pa.array(["expressway"] * n, pa.string()),
            "geometry_wkt": pa.nulls(n, pa.string()),
            "oneway": pa.array([True] * n, pa.bool_()),
            "bearing_deg": pa.array([BEARINGS.get(d) for d in rows["direction"].to_pylist()], pa.float64()),
            "length_m": pc.round(pc.multiply(rows["length_mi"], MILE_M), 3),
            "speed_limit_kmh": pa.array([self.speed_limit_kmh] * n, pa.float64()),
            "speed_limit_source": pa.array(["class_default"] * n, pa.string()),
            "free_flow_speed_kmh": pa.array([self.speed_limit_kmh] * n, pa.float64()),
            "corridor_id": corridor,
            "district_code": pc.cast(rows["district"], pa.string()),
            "source_ref": pc.cast(rows["station_id"], pa.string()),
        }
        table = pa.table(
            {field.name: pc.cast(columns[field.name], field.type) for field in SEGMENTS.schema}
            | {LOCATION: rows[LOCATION]}
        )
        return Parsed(rows=table, rejected=parsed.rejected, skipped=skipped)


class PemsDetectorSegments(PemsStations):
    """PeMS station 5-minute file → `roads.detector_segments`: each mainline station to its own segment."""

    name: ClassVar[str] = "pems.detector_segments"
    dataset: ClassVar[str] = "roads.detector_segments"

    def parse(self, data: bytes) -> Parsed:
        parsed = super().parse(data)
        rows, skipped = _mainline(parsed)
        columns = {
            "station_id": rows["station_id"],
            "segment_id": _segment_ids(rows),
            "method": pa.array(["station_as_segment"] * rows.num_rows, pa.string()),
        }
        table = pa.table(
            {field.name: pc.cast(columns[field.name], field.type) for field in DETECTOR_SEGMENTS.schema}
            | {LOCATION: rows[LOCATION]}
        )
        return Parsed(rows=table, rejected=parsed.rejected, skipped=skipped)
