"""Posted speed limits of road segments for the overspeed rule (路段限速).

`SegmentLimits` holds the segments of `roads.segments` that have a geometry, projected to local metres,
in a shapely STRtree. A fix is matched to the nearest segment within `tolerance_m` (the receiver's error
plus half a carriageway); it then gets that segment's limit, and a fix that matches none gets None, so the
rule falls back to the class limit. Segments whose limit is only the road-class default
(`speed_limit_source` = `class_default`) are left out unless `class_defaults` is set: a guessed limit is
no better than the class limit the supervision rules already configure.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import cos, radians

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely  # type: ignore[import-untyped]
from shapely import wkt
from shapely.strtree import STRtree  # type: ignore[import-untyped]

from dthub.domains.vehicles.rules import EARTH_RADIUS_M, Fix
from dthub.hub.core import Hub

SEGMENTS = "roads.segments"


class SegmentLimits:
    """`limits(fix)` -> (posted limit km/h, segment id) of the segment the fix is on, or None."""

    def __init__(self, segments: Iterable[tuple[str, str, float]], *, tolerance_m: float = 20.0) -> None:
        """`segments`: (segment id, WKT LineString in WGS-84, limit km/h)."""
        ids, lines, limits = [], [], []
        for segment_id, geometry, limit in segments:
            line = wkt.loads(geometry)
            if line.is_empty or line.geom_type != "LineString":
                continue
            ids.append(segment_id)
            lines.append(line)
            limits.append(float(limit))
        self.ids, self.limits, self.tolerance_m = ids, limits, tolerance_m
        lat0 = float(np.mean([line.centroid.y for line in lines])) if lines else 0.0
        k = radians(1) * EARTH_RADIUS_M
        self.kx, self.ky = k * cos(radians(lat0)), k
        projected = [shapely.transform(line, lambda xy: xy * (self.kx, self.ky)) for line in lines]
        self.tree = STRtree(projected) if projected else None

    def __len__(self) -> int:
        return len(self.ids)

    def __call__(self, fix: Fix) -> tuple[float, str] | None:
        if self.tree is None:
            return None
        point = shapely.points(fix.lon * self.kx, fix.lat * self.ky)
        found = self.tree.query_nearest(point, max_distance=self.tolerance_m, all_matches=False)
        if len(found) == 0:
            return None
        n = int(found[0])
        return self.limits[n], self.ids[n]

    @classmethod
    def from_table(
        cls, table: pa.Table, *, tolerance_m: float = 20.0, class_defaults: bool = False
    ) -> SegmentLimits:
        """From rows of `roads.segments` (segment_id, geometry_wkt, speed_limit_kmh, speed_limit_source)."""
        if not class_defaults:
            table = table.filter(pc.equal(table["speed_limit_source"], "source"))
        table = table.filter(pc.invert(pc.is_null(table["geometry_wkt"])))
        rows = zip(
            table["segment_id"].to_pylist(),
            table["geometry_wkt"].to_pylist(),
            table["speed_limit_kmh"].to_pylist(),
            strict=True,
        )
        return cls(((i, g, v) for i, g, v in rows if g), tolerance_m=tolerance_m)

    @classmethod
    def read(cls, hub: Hub, *, tolerance_m: float = 20.0, class_defaults: bool = False) -> SegmentLimits:
        """From the segments landed in the lake (none yet: no segment limits)."""
        con = hub.connect()
        try:
            if not hub.files(SEGMENTS):
                return cls((), tolerance_m=tolerance_m)
            columns = ("segment_id", "geometry_wkt", "speed_limit_kmh", "speed_limit_source")
            table = hub.table(SEGMENTS, con).select(*columns).to_pyarrow()
        finally:
            con.disconnect()
        return cls.from_table(table, tolerance_m=tolerance_m, class_defaults=class_defaults)
