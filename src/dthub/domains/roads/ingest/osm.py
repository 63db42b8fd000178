"""OpenStreetMap drive networks as GraphML (OSMnx `save_graphml`) → `roads.segments` (OSM 路网).

Each directed edge `u → v (key)` of the graph is one segment `osm:<u>-<v>-<key>`: OSMnx writes a two-way road
as two edges, one per direction, and the edge geometry runs from `u` to `v` (an edge without `geometry` is the
straight line between its nodes). The class comes from `highway` (`roads.network.OSM_HIGHWAY_CLASS`); edges
of no road class (footways, paths, service roads) are skipped, not refused. The speed limit is `maxspeed`
where the edge has a readable one, else the class default; the free-flow speed is the speed limit. Length
is measured on the WGS-84 ellipsoid, not taken from OSMnx's `length`.

Locations are edge numbers (0-based, in the file's order); the raw record of an edge is JSON of its
attributes and its nodes' coordinates, which `parse_raw` reads back. Refused: `osm.bad_graphml` (the whole
file), `osm.bad_geometry`, `osm.bad_record`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import networkx as nx  # type: ignore[import-untyped]
import shapely  # type: ignore[import-untyped]
import shapely.errors  # type: ignore[import-untyped]
from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.domains.roads.geometry import bearing_deg, length_m, parse_speed_kmh, segment_table
from dthub.domains.roads.network import RoadClassDefaults, osm_road_class
from dthub.hub.adapter import LocationUnit, Parsed, Rejected


class BadGeometry(ValueError):
    """An edge geometry that is not a readable LineString."""


@dataclass(frozen=True)
class OsmGraphml:
    """OSMnx GraphML → `roads.segments`."""

    name: ClassVar[str] = "osm.graphml"
    dataset: ClassVar[str] = "roads.segments"
    location_unit: ClassVar[LocationUnit] = "record"

    defaults: RoadClassDefaults = field(default_factory=RoadClassDefaults)
    """Speed limits of edges without a readable `maxspeed`."""

    def parse(self, data: bytes) -> Parsed:
        try:
            records = _edge_records(data)
        except Exception as error:  # networkx raises bare XML and KeyError types on bad files
            rejected = Rejected(reason="osm.bad_graphml", detail=str(error), location=None, raw="")
            return Parsed(rows=segment_table([], []), rejected=(rejected,))
        return self._parse_records(list(enumerate(records)))

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        records = _edge_records(data)
        return [json.dumps(records[location], ensure_ascii=False) for location in locations]

    def parse_raw(self, raw: str) -> Parsed:
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            rejected = Rejected(reason="osm.bad_record", detail=str(error), location=0, raw=raw)
            return Parsed(rows=segment_table([], []), rejected=(rejected,))
        return self._parse_records([(0, record)])

    def _parse_records(self, records: list[tuple[int, dict[str, Any]]]) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        skipped = 0
        for location, record in records:
            try:
                row = self._row(record)
            except BadGeometry as error:
                raw = json.dumps(record, ensure_ascii=False)
                rejected.append(
                    Rejected(reason="osm.bad_geometry", detail=str(error), location=location, raw=raw)
                )
                continue
            except (KeyError, TypeError, ValueError) as error:
                raw = json.dumps(record, ensure_ascii=False)
                rejected.append(
                    Rejected(reason="osm.bad_record", detail=repr(error), location=location, raw=raw)
                )
                continue
            if row is None:
                skipped += 1
                continue
            rows.append(row)
            locations.append(location)
        return Parsed(rows=segment_table(rows, locations), rejected=tuple(rejected), skipped=skipped)

    def _row(self, record: dict[str, Any]) -> dict[str, Any] | None:
        attrs: dict[str, Any] = record["attrs"]
        road_class = osm_road_class(attrs.get("highway"))
        if road_class is None:
            return None
        line = _line(record)
        posted = parse_speed_kmh(attrs.get("maxspeed"))
        speed_limit = posted if posted is not None else self.defaults.speed_limit_kmh(road_class)
        name = _first(attrs.get("name"))
        return {
            "segment_id": f"osm:{record['u']}-{record['v']}-{record['key']}",
            "name": name,
            "road_class": road_class.value,
            "geometry_wkt": line.wkt,
            "oneway": str(attrs.get("oneway", "False")) == "True",
            "bearing_deg": bearing_deg(line),
            "length_m": length_m(line),
            "speed_limit_kmh": speed_limit,
            "speed_limit_source": "source" if posted is not None else "class_default",
            "free_flow_speed_kmh": speed_limit,
            "corridor_id": _first(attrs.get("ref")) or name,
            "district_code": None,
            "source_ref": attrs.get("osmid"),
        }


def _edge_records(data: bytes) -> list[dict[str, Any]]:
    """Each edge of the graph with its attributes and the coordinates of its two nodes."""
    graph = nx.read_graphml(io.BytesIO(data))
    nodes = graph.nodes
    multi = graph.is_multigraph()
    edges = (
        graph.edges(keys=True, data=True) if multi else ((u, v, 0, d) for u, v, d in graph.edges(data=True))
    )
    return [
        {
            "u": u,
            "v": v,
            "key": key,
            "u_xy": [float(nodes[u]["x"]), float(nodes[u]["y"])],
            "v_xy": [float(nodes[v]["x"]), float(nodes[v]["y"])],
            "attrs": {name: str(value) for name, value in attrs.items()},
        }
        for u, v, key, attrs in edges
    ]


def _line(record: dict[str, Any]) -> LineString:
    """The edge's geometry from `u` to `v`: its `geometry` (reversed if drawn from `v`) or a line."""
    wkt = record["attrs"].get("geometry")
    if wkt is None:
        return LineString([record["u_xy"], record["v_xy"]])
    try:
        line = shapely.from_wkt(wkt)
    except shapely.errors.ShapelyError as error:
        raise BadGeometry(f"geometry {wkt[:80]!r}: {error}") from error
    if not isinstance(line, LineString) or len(line.coords) < 2:
        raise BadGeometry(f"geometry {wkt[:80]!r} is not a LineString of two points or more")
    start, end = line.coords[0], line.coords[-1]
    u_xy, v_xy = tuple(record["u_xy"]), tuple(record["v_xy"])
    if _distance2(end, u_xy) < _distance2(start, u_xy) and _distance2(start, v_xy) < _distance2(end, v_xy):
        return line.reverse()
    return line


def _distance2(a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def _first(value: str | None) -> str | None:
    """The first of an OSMnx list value (`"['深南大道', '滨河大道']"`), or the value itself."""
    if value is None:
        return None
    if value.startswith("[") and value.endswith("]"):
        return value.strip("[]").split(",")[0].strip(" '\"") or None
    return value
