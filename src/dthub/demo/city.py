"""The demo city's road network (模拟路网): expressway rings and radials and an arterial grid in Tianjin.

Pure and deterministic: the same `CityPlan` gives the same network, to the metre. The network is laid out
in kilometres around a centre in 和平区 (39.125 N, 117.200 E) and converted to WGS-84: an arterial grid
(主干路 and 次干路, 1.2 km apart) inside the 中环线 (an expressway ring of 5 km radius), the 外环线 at 9 km,
and eight expressway radials from the 中环线 out to 11 km. Every road is two directed segments per
stretch between junctions (one for a one-way street); each segment has its road class, speed limit,
free-flow speed, lanes and the GB/T 2260 code of the Tianjin district it lies in.

Nothing here is real: names carry 模拟 (simulated), ids start with `tjsim-`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CENTRE_LAT, CENTRE_LON = 39.125, 117.200
KM_PER_DEG_LAT = 111.195
KM_PER_DEG_LON = KM_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT))
SIMULATED = "（模拟）"
"""Suffix of every name a user sees."""

DISTRICTS = {
    "120101": "和平区",
    "120102": "河东区",
    "120103": "河西区",
    "120104": "南开区",
    "120105": "河北区",
    "120106": "红桥区",
    "120110": "东丽区",
    "120111": "西青区",
    "120112": "津南区",
    "120113": "北辰区",
}
"""Tianjin districts (GB/T 2260 codes) the network touches."""

GRID_NS = ("红旗路", "卫津路", "友谊路", "大沽路", "解放路", "海河东路", "津塘路")
GRID_EW = ("黑牛城道", "复康路", "围堤道", "南京路", "卫国道", "金钟河大街", "北站路")
RADIALS = (
    (0, "京津公路"),
    (45, "金钟快速路"),
    (90, "津滨快速路"),
    (135, "津塘二线"),
    (180, "卫津南路快速路"),
    (225, "津港快速路"),
    (270, "津静快速路"),
    (315, "京津塘快速路"),
)
"""Expressway radials: bearing from the centre (0: north) and name."""


@dataclass(frozen=True, kw_only=True)
class RoadKind:
    """Road class and its design figures."""

    road_class: str
    speed_limit_kmh: float
    free_flow_speed_kmh: float
    lanes: int


EXPRESSWAY = RoadKind(road_class="expressway", speed_limit_kmh=80, free_flow_speed_kmh=72, lanes=3)
ARTERIAL = RoadKind(road_class="arterial", speed_limit_kmh=60, free_flow_speed_kmh=50, lanes=2)
BRANCH = RoadKind(road_class="secondary_branch", speed_limit_kmh=40, free_flow_speed_kmh=35, lanes=1)


@dataclass(frozen=True, kw_only=True)
class CityPlan:
    """The layout, in km from the centre."""

    grid_spacing_km: float = 1.2
    grid_lines: int = 7
    """Lines of the grid in each direction (odd: one through the centre)."""
    middle_ring_km: float = 5.0
    outer_ring_km: float = 9.0
    radial_end_km: float = 11.0
    one_way: tuple[str, ...] = ("大沽路", "卫津路")
    """Grid streets that are one-way (单行), alternately north- and southbound: 大沽路 north, 卫津路 south
    (branch streets: the bus routes run on the two-way arterials)."""


@dataclass(frozen=True, kw_only=True)
class Segment:
    """One directed road segment, drawn in its direction of travel."""

    segment_id: str
    """Id in the demo's GeoJSON; the hub stores it as `geojson:<segment_id>`."""
    name: str
    kind: RoadKind
    oneway: bool
    corridor_id: str
    district_code: str
    coords: tuple[tuple[float, float], ...]
    """(lon, lat) points, WGS-84."""
    start: str
    end: str
    """Junction keys of its ends."""
    length_m: float

    @property
    def hub_id(self) -> str:
        return f"geojson:{self.segment_id}"


@dataclass(frozen=True)
class Network:
    """The segments; per junction, the segments leaving it and the lowest limit of the roads meeting there."""

    segments: tuple[Segment, ...]
    leaving: dict[str, tuple[int, ...]] = field(hash=False)
    junction_limit_kmh: dict[str, float] = field(hash=False)

    def next_segments(self, index: int) -> tuple[int, ...]:
        """Segments that continue segment `index`, U-turns last resort."""
        here = self.segments[index]
        onward = self.leaving.get(here.end, ())
        forward = tuple(i for i in onward if self.segments[i].end != here.start)
        return forward or onward


Point = tuple[float, float]
"""x (east), y (north), km from the centre."""


def to_lonlat(point: Point) -> tuple[float, float]:
    x, y = point
    return (round(CENTRE_LON + x / KM_PER_DEG_LON, 6), round(CENTRE_LAT + y / KM_PER_DEG_LAT, 6))


def _key(point: Point) -> str:
    """The junction a point is, to the metre (-0.0 is 0.0: two roads meeting there meet at one key)."""
    x, y = (round(value, 3) + 0.0 for value in point)
    return f"{x:.3f},{y:.3f}"


def _polar(radius_km: float, bearing_deg: float) -> Point:
    angle = math.radians(bearing_deg)
    return (radius_km * math.sin(angle), radius_km * math.cos(angle))


def _bearing(point: Point) -> float:
    return math.degrees(math.atan2(point[0], point[1])) % 360


def district_of(point: Point, plan: CityPlan) -> str:
    """District code of a point: 和平区 at the centre, the six central districts by sector inside the
    中环线, the four ring districts outside it."""
    radius, bearing = math.hypot(*point), _bearing(point)
    if radius < 1.8:
        return "120101"
    if radius <= plan.middle_ring_km:
        for upto, code in (
            (60, "120105"),
            (150, "120102"),
            (210, "120103"),
            (285, "120104"),
            (345, "120106"),
        ):
            if bearing < upto:
                return code
        return "120105"
    for upto, code in ((45, "120113"), (135, "120110"), (225, "120112"), (315, "120111")):
        if bearing < upto:
            return code
    return "120113"


def _length_km(points: Sequence[Point]) -> float:
    return sum(math.dist(a, b) for a, b in itertools.pairwise(points))


@dataclass
class _Builder:
    plan: CityPlan
    segments: list[Segment] = field(default_factory=list)

    def road(
        self, code: str, name: str, kind: RoadKind, stretches: Sequence[Sequence[Point]], *, oneway: bool
    ) -> None:
        """Add a road as its stretches between junctions, forward, and backward unless one-way."""
        directions = ("f",) if oneway else ("f", "b")
        for direction in directions:
            for number, stretch in enumerate(stretches):
                points = list(stretch) if direction == "f" else list(reversed(stretch))
                middle = points[len(points) // 2] if len(points) > 2 else _mid(points[0], points[-1])
                self.segments.append(
                    Segment(
                        segment_id=f"tjsim-{code}-{number:02d}-{direction}",
                        name=f"{name}{SIMULATED}",
                        kind=kind,
                        oneway=oneway,
                        corridor_id=f"{name}{SIMULATED}",
                        district_code=district_of(middle, self.plan),
                        coords=tuple(to_lonlat(p) for p in points),
                        start=_key(points[0]),
                        end=_key(points[-1]),
                        length_m=round(_length_km(points) * 1000, 1),
                    )
                )


def _mid(a: Point, b: Point) -> Point:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def _grid_offsets(plan: CityPlan) -> list[float]:
    half = plan.grid_lines // 2
    return [round((i - half) * plan.grid_spacing_km, 6) for i in range(plan.grid_lines)]


def _grid(builder: _Builder) -> list[Point]:
    """The arterial grid; returns the points where its lines meet the 中环线."""
    plan = builder.plan
    offsets = _grid_offsets(plan)
    ring_points: list[Point] = []
    for line, offset in enumerate(offsets):
        reach = math.sqrt(plan.middle_ring_km**2 - offset**2)
        stops = [-reach, *[c for c in offsets if abs(c) < reach], reach]
        points = [(offset, y) for y in stops]
        ring_points += [points[0], points[-1]]
        name = GRID_NS[line]
        kind = ARTERIAL if line % 2 == 0 else BRANCH
        oneway = name in plan.one_way
        stretches = list(itertools.pairwise(points))
        if oneway and plan.one_way.index(name) % 2 == 1:  # southbound: drawn north to south
            stretches = [(b, a) for a, b in reversed(stretches)]
        builder.road(f"ns{line}", name, kind, stretches, oneway=oneway)
    for line, offset in enumerate(offsets):
        reach = math.sqrt(plan.middle_ring_km**2 - offset**2)
        stops = [-reach, *[c for c in offsets if abs(c) < reach], reach]
        points = [(x, offset) for x in stops]
        ring_points += [points[0], points[-1]]
        kind = ARTERIAL if line % 2 == 0 else BRANCH
        builder.road(f"ew{line}", GRID_EW[line], kind, list(itertools.pairwise(points)), oneway=False)
    return ring_points


def _arc(radius_km: float, start_deg: float, end_deg: float, step_deg: float = 4.0) -> list[Point]:
    """Points along a circle clockwise (by bearing) from `start_deg` to `end_deg`."""
    sweep = (end_deg - start_deg) % 360 or 360
    count = max(1, math.ceil(sweep / step_deg))
    return [_polar(radius_km, start_deg + sweep * i / count) for i in range(count + 1)]


def _ring(builder: _Builder, code: str, name: str, radius_km: float, nodes: Sequence[Point]) -> None:
    """A ring road through `nodes` (points on the circle), one stretch between neighbouring nodes."""
    by_bearing = sorted({_key(p): p for p in nodes}.values(), key=_bearing)
    stretches = []
    for here, there in zip(by_bearing, [*by_bearing[1:], by_bearing[0]], strict=True):
        arc = _arc(radius_km, _bearing(here), _bearing(there))
        stretches.append([here, *arc[1:-1], there])
    builder.road(code, name, EXPRESSWAY, stretches, oneway=False)


def build_network(plan: CityPlan | None = None) -> Network:
    """The demo city's directed road network."""
    plan = plan or CityPlan()
    builder = _Builder(plan)
    grid_ends = _grid(builder)
    radial_bearings = [bearing for bearing, _ in RADIALS]
    middle_nodes = grid_ends + [_polar(plan.middle_ring_km, b) for b in radial_bearings]
    _ring(builder, "mid", "中环线", plan.middle_ring_km, middle_nodes)
    outer_nodes = [_polar(plan.outer_ring_km, b + shift) for b in radial_bearings for shift in (0, 22.5)]
    _ring(builder, "out", "外环线", plan.outer_ring_km, outer_nodes)
    between = (plan.middle_ring_km + plan.outer_ring_km) / 2
    for bearing, name in RADIALS:
        radii = (plan.middle_ring_km, between, plan.outer_ring_km, plan.radial_end_km)
        points = [_polar(r, bearing) for r in radii]
        builder.road(f"r{bearing:03d}", name, EXPRESSWAY, list(itertools.pairwise(points)), oneway=False)
    segments = tuple(builder.segments)
    leaving: dict[str, list[int]] = {}
    lowest: dict[str, float] = {}
    for index, segment in enumerate(segments):
        leaving.setdefault(segment.start, []).append(index)
        for end in (segment.start, segment.end):
            lowest[end] = min(lowest.get(end, math.inf), segment.kind.speed_limit_kmh)
    return Network(segments, {key: tuple(found) for key, found in leaving.items()}, lowest)


def feature(segment: Segment) -> dict[str, Any]:
    """A segment as a GeoJSON Feature with the properties `geojson.segments` reads."""
    return {
        "type": "Feature",
        "id": segment.segment_id,
        "geometry": {"type": "LineString", "coordinates": [list(p) for p in segment.coords]},
        "properties": {
            "segment_id": segment.segment_id,
            "name": segment.name,
            "road_class": segment.kind.road_class,
            "oneway": segment.oneway,
            "speed_limit_kmh": segment.kind.speed_limit_kmh,
            "free_flow_speed_kmh": segment.kind.free_flow_speed_kmh,
            "lanes": segment.kind.lanes,
            "corridor_id": segment.corridor_id,
            "district_code": segment.district_code,
            "district": DISTRICTS[segment.district_code],
            "simulated": True,
        },
    }


def feature_collection(network: Network) -> dict[str, Any]:
    """The network as a GeoJSON FeatureCollection, labelled simulated."""
    return {
        "type": "FeatureCollection",
        "name": "天津演示城市路网（模拟） Tianjin demo city road network (simulated)",
        "features": [feature(segment) for segment in network.segments],
    }


def position_at(segment: Segment, distance_m: float) -> tuple[float, float]:
    """(lon, lat) `distance_m` along a segment from its start (clamped to its ends)."""
    left = max(0.0, distance_m)
    coords = segment.coords
    for a, b in itertools.pairwise(coords):
        dx = (b[0] - a[0]) * KM_PER_DEG_LON * 1000
        dy = (b[1] - a[1]) * KM_PER_DEG_LAT * 1000
        piece = math.hypot(dx, dy)
        if left <= piece and piece > 0:
            share = left / piece
            return (round(a[0] + (b[0] - a[0]) * share, 6), round(a[1] + (b[1] - a[1]) * share, 6))
        left -= piece
    return coords[-1]


def heading_deg(segment: Segment) -> int:
    """Direction of travel from the segment's start to its end, degrees from north."""
    (lon1, lat1), (lon2, lat2) = segment.coords[0], segment.coords[-1]
    dx, dy = (lon2 - lon1) * KM_PER_DEG_LON, (lat2 - lat1) * KM_PER_DEG_LAT
    return round(math.degrees(math.atan2(dx, dy)) % 360) % 360
