"""GeoJSON road segments (RFC 7946 FeatureCollection of LineStrings) → `roads.segments`.

Each Feature is one directed segment, drawn in its direction of travel, with properties:

| property | required | meaning |
|---|---|---|
| `segment_id` (or the Feature `id`) | yes | id within the source; stored as `geojson:<id>` |
| `road_class` | yes | `expressway`, `arterial` or `secondary_branch`, or an OSM `highway` value |
| `name`, `corridor_id`, `district_code` | no | road name, corridor (defaults to the name), GB/T 2260 code |
| `oneway` | no | true or false (default false) |
| `speed_limit_kmh` | no | posted limit; the class default when absent |
| `free_flow_speed_kmh` | no | free-flow speed; the speed limit when absent |

Locations are Feature numbers (0-based); the raw record is the Feature as JSON. Refused: `geojson.bad_json`
(the whole file), `geojson.not_linestring`, `geojson.missing_property`, `geojson.bad_value`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.domains.roads.geometry import bearing_deg, length_m, segment_table
from dthub.domains.roads.network import RoadClass, RoadClassDefaults, osm_road_class
from dthub.hub.adapter import LocationUnit, Parsed, Rejected


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class GeojsonSegments:
    """GeoJSON FeatureCollection of LineStrings → `roads.segments`."""

    name: ClassVar[str] = "geojson.segments"
    dataset: ClassVar[str] = "roads.segments"
    location_unit: ClassVar[LocationUnit] = "record"

    defaults: RoadClassDefaults = field(default_factory=RoadClassDefaults)
    """Speed limits of features without `speed_limit_kmh`."""

    def parse(self, data: bytes) -> Parsed:
        try:
            features = _features(data)
        except (ValueError, TypeError, KeyError) as error:
            rejected = Rejected(reason="geojson.bad_json", detail=str(error), location=None, raw="")
            return Parsed(rows=segment_table([], []), rejected=(rejected,))
        return self._parse(list(enumerate(features)))

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        features = _features(data)
        return [json.dumps(features[location], ensure_ascii=False) for location in locations]

    def parse_raw(self, raw: str) -> Parsed:
        try:
            feature = json.loads(raw)
        except json.JSONDecodeError as error:
            rejected = Rejected(reason="geojson.bad_json", detail=str(error), location=0, raw=raw)
            return Parsed(rows=segment_table([], []), rejected=(rejected,))
        return self._parse([(0, feature)])

    def _parse(self, features: list[tuple[int, Any]]) -> Parsed:
        rows, locations, rejected = [], [], []
        for location, feature in features:
            try:
                rows.append(self._row(feature))
                locations.append(location)
            except _Refused as refused:
                raw = json.dumps(feature, ensure_ascii=False)
                rejected.append(
                    Rejected(reason=refused.reason, detail=refused.detail, location=location, raw=raw)
                )
        return Parsed(rows=segment_table(rows, locations), rejected=tuple(rejected))

    def _row(self, feature: Any) -> dict[str, Any]:
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "LineString":
            kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
            raise _Refused("geojson.not_linestring", f"geometry is {kind}, want LineString")
        try:
            line = LineString(geometry["coordinates"])
        except (KeyError, TypeError, ValueError) as error:
            raise _Refused("geojson.not_linestring", f"coordinates: {error}") from error
        if len(line.coords) < 2:
            raise _Refused("geojson.not_linestring", "a LineString needs two points or more")
        properties = feature.get("properties") or {}
        segment_id = properties.get("segment_id", feature.get("id"))
        if segment_id is None:
            raise _Refused("geojson.missing_property", "segment_id (or the feature id) is missing")
        if "road_class" not in properties:
            raise _Refused("geojson.missing_property", f"segment {segment_id}: road_class is missing")
        road_class = _road_class(properties["road_class"])
        limit = _speed(properties, "speed_limit_kmh")
        speed_limit = limit if limit is not None else self.defaults.speed_limit_kmh(road_class)
        free_flow = _speed(properties, "free_flow_speed_kmh")
        name = properties.get("name")
        return {
            "segment_id": f"geojson:{segment_id}",
            "name": name,
            "road_class": road_class.value,
            "geometry_wkt": line.wkt,
            "oneway": bool(properties.get("oneway", False)),
            "bearing_deg": bearing_deg(line),
            "length_m": length_m(line),
            "speed_limit_kmh": speed_limit,
            "speed_limit_source": "source" if limit is not None else "class_default",
            "free_flow_speed_kmh": free_flow if free_flow is not None else speed_limit,
            "corridor_id": properties.get("corridor_id", name),
            "district_code": properties.get("district_code"),
            "source_ref": str(segment_id),
        }


def _features(data: bytes) -> list[Any]:
    collection = json.loads(data)
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ValueError("not a GeoJSON FeatureCollection")
    features = collection["features"]
    if not isinstance(features, list):
        raise TypeError("features is not a list")
    return features


def _road_class(value: Any) -> RoadClass:
    if value in {road_class.value for road_class in RoadClass}:
        return RoadClass(value)
    mapped = osm_road_class(value) if isinstance(value, str) else None
    if mapped is None:
        raise _Refused(
            "geojson.bad_value", f"road_class={value!r}; want expressway, arterial, secondary_branch"
        )
    return mapped


def _speed(properties: dict[str, Any], name: str) -> float | None:
    value = properties.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _Refused("geojson.bad_value", f"{name}={value!r}; want a positive number of km/h")
    return float(value)
