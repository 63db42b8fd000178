"""The demo city's timetables (模拟时刻表) as a GTFS feed: three metro lines and bus routes on the grid.

Pure and deterministic given the first service day: metro lines cross the centre (N-S, E-W and NE-SW),
stations about 1.1 km apart, every 6 minutes in the peaks and 8 minutes otherwise from 06:00 to 23:00; bus
routes run along the arterials of the demo network (`demo.city`) with a stop every 600 m, every 10 minutes
from 05:30 to 22:30. Stop names are Chinese; the agencies, routes and feed are labelled 模拟 (simulated).
`write_feed` writes the files to a folder that `transit.gtfs.read_feed` reads.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from dthub.demo.city import GRID_EW, GRID_NS, SIMULATED, CityPlan, to_lonlat

FEED_NAME = "tianjin_simulated"
METRO_LINES = (
    ("M1", "地铁1号线", "E4002B", 0.0, ("刘园", "西横堤", "果酒厂", "本溪路", "勤俭道", "洪湖里", "西站",
                                       "西北角", "西南角", "二纬路", "海光寺", "鞍山道", "营口道", "小白楼",
                                       "下瓦房", "南楼", "土城", "陈塘庄", "复兴门", "华山里")),
    ("M2", "地铁2号线", "9ACD32", 90.0, ("曹庄", "卞兴", "芥园西道", "咸阳路", "长虹公园", "广开四马路",
                                        "西南角站", "鼓楼", "东南角", "建国道", "天津站", "远洋国际中心",
                                        "顺驰桥", "靖江路", "翠阜新村", "屿东城", "登州路", "国山路")),
    ("M3", "地铁3号线", "1E90FF", 45.0, ("华苑", "王顶堤", "红旗南路", "周邓纪念馆", "天塔", "吴家窑",
                                        "西康路", "和平路", "津湾广场", "天津站南", "金狮桥", "中山路",
                                        "北站", "铁东路", "张兴庄", "宜兴埠", "小淀")),
)  # fmt: skip
"""Metro lines: id, name, colour, bearing of the line through the centre, station names end to end."""

METRO_SPACING_KM = 1.1
METRO_SPEED_KMH = 36.0
BUS_SPEED_KMH = 18.0
DWELL_S = 30
BUS_STOP_SPACING_KM = 0.6
BUS_LINES = (0, 2, 4, 6)
"""Grid lines (each direction) that carry a bus route."""


@dataclass(frozen=True, kw_only=True)
class Line:
    """One route: its id, names, type and stops (id, name, lon, lat) in order."""

    route_id: str
    short_name: str
    long_name: str
    route_type: int
    colour: str
    agency_id: str
    stops: tuple[tuple[str, str, float, float], ...]
    speed_kmh: float
    first_s: int
    last_s: int
    headway_s: int
    peak_headway_s: int


def _metro_lines() -> list[Line]:
    lines = []
    for route_id, name, colour, bearing, names in METRO_LINES:
        half = (len(names) - 1) / 2
        angle = math.radians(bearing)
        stops = []
        for number, station in enumerate(names):
            along = (number - half) * METRO_SPACING_KM
            lon, lat = to_lonlat((along * math.sin(angle), along * math.cos(angle)))
            stops.append((f"{route_id}-{number:02d}", f"{station}站", lon, lat))
        lines.append(
            Line(
                route_id=route_id,
                short_name=name.removeprefix("地铁"),
                long_name=f"{name}{SIMULATED}",
                route_type=1,
                colour=colour,
                agency_id="metro",
                stops=tuple(stops),
                speed_kmh=METRO_SPEED_KMH,
                first_s=6 * 3600,
                last_s=23 * 3600,
                headway_s=480,
                peak_headway_s=360,
            )
        )
    return lines


def _bus_lines(plan: CityPlan) -> list[Line]:
    half = plan.grid_lines // 2
    offsets = [(i - half) * plan.grid_spacing_km for i in range(plan.grid_lines)]
    reach_km = plan.middle_ring_km * 0.9
    lines = []
    number = 600
    for vertical in (True, False):
        for line in BUS_LINES:
            offset = offsets[line]
            reach = math.sqrt(reach_km**2 - offset**2)
            count = int(2 * reach / BUS_STOP_SPACING_KM)
            road = GRID_NS[line] if vertical else GRID_EW[line]
            stops = []
            for k in range(count + 1):
                along = -reach + k * BUS_STOP_SPACING_KM
                point = (offset, along) if vertical else (along, offset)
                lon, lat = to_lonlat(point)
                cross = _cross_name(along, plan, GRID_EW if vertical else GRID_NS)
                stops.append((f"B{number}-{k:02d}", f"{road}{cross}", lon, lat))
            number += 1
            lines.append(
                Line(
                    route_id=f"B{number - 1}",
                    short_name=f"{number - 1}路",
                    long_name=f"{number - 1}路 {road}{SIMULATED}",
                    route_type=3,
                    colour="FF8C00",
                    agency_id="bus",
                    stops=tuple(stops),
                    speed_kmh=BUS_SPEED_KMH,
                    first_s=5 * 3600 + 1800,
                    last_s=22 * 3600 + 1800,
                    headway_s=600,
                    peak_headway_s=600,
                )
            )
    return lines


def _cross_name(along: float, plan: CityPlan, names: Sequence[str]) -> str:
    """A stop's name after the nearest cross street: at it, or 北/南 of it."""
    half = plan.grid_lines // 2
    nearest = min(range(plan.grid_lines), key=lambda i: abs((i - half) * plan.grid_spacing_km - along))
    gap = along - (nearest - half) * plan.grid_spacing_km
    where = "口" if abs(gap) < 0.2 else ("北" if gap > 0 else "南")
    return f"{names[nearest]}{where}"


def lines(plan: CityPlan | None = None) -> list[Line]:
    """Every metro line and bus route of the demo feed."""
    return _metro_lines() + _bus_lines(plan or CityPlan())


def _distance_km(a: tuple[str, str, float, float], b: tuple[str, str, float, float]) -> float:
    dx = (b[2] - a[2]) * 111.195 * math.cos(math.radians(a[3]))
    dy = (b[3] - a[3]) * 111.195
    return math.hypot(dx, dy)


def _time(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _is_peak(seconds: int) -> bool:
    hour = seconds / 3600
    return 7 <= hour < 9.5 or 17 <= hour < 19.5


def feed_files(first_day: date, *, days: int = 365, plan: CityPlan | None = None) -> dict[str, str]:
    """The feed's files (name → CSV text), service every day from `first_day` for `days` days."""
    routes = lines(plan)
    tables: dict[str, list[list[object]]] = {
        "agency.txt": [["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
                       ["metro", f"天津轨道交通{SIMULATED}", "https://example.invalid/metro", "Asia/Shanghai",
                        "zh"],
                       ["bus", f"天津公交{SIMULATED}", "https://example.invalid/bus", "Asia/Shanghai", "zh"]],
        "feed_info.txt": [["feed_publisher_name", "feed_publisher_url", "feed_lang", "feed_version"],
                          [f"dthub 演示城市{SIMULATED} simulated demo city", "https://example.invalid", "zh",
                           f"simulated-{first_day:%Y%m%d}"]],
        "calendar.txt": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                          "sunday", "start_date", "end_date"],
                         ["daily", 1, 1, 1, 1, 1, 1, 1, f"{first_day:%Y%m%d}",
                          f"{first_day + timedelta(days=days - 1):%Y%m%d}"]],
        "routes.txt": [["route_id", "agency_id", "route_short_name", "route_long_name", "route_type",
                        "route_color"]],
        "stops.txt": [["stop_id", "stop_name", "stop_lat", "stop_lon"]],
        "trips.txt": [["route_id", "service_id", "trip_id", "trip_headsign", "direction_id"]],
        "stop_times.txt": [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"]],
    }  # fmt: skip
    for line in routes:
        tables["routes.txt"].append([line.route_id, line.agency_id, line.short_name, line.long_name,
                                     line.route_type, line.colour])  # fmt: skip
        for stop_id, name, lon, lat in line.stops:
            tables["stops.txt"].append([stop_id, name, f"{lat:.6f}", f"{lon:.6f}"])
        for direction in (0, 1):
            stops = line.stops if direction == 0 else tuple(reversed(line.stops))
            runs = [0]
            for a, b in itertools.pairwise(stops):
                runs.append(runs[-1] + round(_distance_km(a, b) / line.speed_kmh * 3600) + DWELL_S)
            departure, number = line.first_s, 0
            while departure <= line.last_s:
                trip_id = f"{line.route_id}-{direction}-{number:03d}"
                tables["trips.txt"].append([line.route_id, "daily", trip_id, stops[-1][1], direction])
                for sequence, (stop, offset) in enumerate(zip(stops, runs, strict=True), start=1):
                    at = _time(departure + offset)
                    tables["stop_times.txt"].append([trip_id, at, at, stop[0], sequence])
                departure += line.peak_headway_s if _is_peak(departure) else line.headway_s
                number += 1
    texts = {}
    for name, rows in tables.items():
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        texts[name] = out.getvalue()
    return texts


def write_feed(folder: Path, first_day: date, *, plan: CityPlan | None = None) -> Path:
    """Write the feed's files into `folder` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in feed_files(first_day, plan=plan).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
