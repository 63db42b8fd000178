"""Geometry of segments on the WGS-84 ellipsoid (pyproj Geod), and segment rows as Arrow.

Coordinates are (longitude, latitude) in EPSG:4326, as WKT and GeoJSON order them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pyproj import Geod
from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.domains.roads.datasets import SEGMENTS
from dthub.hub.adapter import LOCATION

WGS84 = Geod(ellps="WGS84")
DECIMALS = 3
"""Decimal places of lengths (mm) and bearings."""
MPH_TO_KMH = 1.609344
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


def length_m(line: LineString) -> float:
    """Length of `line` along the ellipsoid, metres."""
    return round(float(WGS84.geometry_length(line)), DECIMALS)


def bearing_deg(line: LineString) -> float:
    """Azimuth from the first to the last point of `line`, degrees clockwise from north, in [0, 360)."""
    (lon1, lat1), (lon2, lat2) = line.coords[0], line.coords[-1]
    azimuth, _back, _distance = WGS84.inv(lon1, lat1, lon2, lat2)
    return round(float(azimuth) % 360.0, DECIMALS) % 360.0


def parse_speed_kmh(value: str | None) -> float | None:
    """A posted speed (`"40"`, `"40 km/h"`, `"65 mph"`, or an OSMnx list `"['30', '40']"`, whose lowest
    value is taken) in km/h; None when absent or unreadable (`"signals"`, `"none"`)."""
    if value is None:
        return None
    speeds = []
    for part in str(value).strip("[]").split(","):
        match = _SPEED.match(part.strip(" '\""))
        if match is None:
            return None
        speed = float(match[1])
        speeds.append(speed * MPH_TO_KMH if match[2] == "mph" else speed)
    return round(min(speeds), DECIMALS) if speeds else None


def segment_table(rows: Sequence[dict[str, Any]], locations: Sequence[int]) -> pa.Table:
    """Rows of `roads.segments` (dicts with every column) with their `_location`, as Arrow."""
    columns = {
        field.name: pa.array([row[field.name] for row in rows], field.type) for field in SEGMENTS.schema
    }
    columns[LOCATION] = pa.array(locations, pa.int64())
    return pa.table(columns)
