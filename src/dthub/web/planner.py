"""What the trip planner page (出行规划) needs besides the planner itself: the GTFS feeds the hub can plan
over, a feed's stops for the map, and a service day the feed runs on.

Feeds are the ones `POST /api/v1/transit/plan` accepts: files and folders under `<DTHUB_REALDATA>/gtfs/`,
named by their path without `.zip`; bike-share systems, its `bikeshare`: folders under
`<DTHUB_REALDATA>/bikeshare/` holding a GBFS `station_information.json`. The page posts its query to that
same route; nothing is computed here.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from dthub.domains.transit.api import FEED_NAME
from dthub.domains.transit.gbfs import read_station_information
from dthub.domains.transit.gtfs import parse_date, read_feed

STOP_LIMIT = 20_000
"""Most stops one map draws."""


def feeds(realdata: Path) -> list[str]:
    """Names of the GTFS feeds under `<realdata>/gtfs/` (zip files, and folders holding a stops.txt),
    following symbolic links: the demo's view of the real data (`demo.build.realdata_view`) is made of them,
    and `Path.rglob` does not enter a linked folder."""
    root = realdata / "gtfs"
    if not root.is_dir():
        return []
    names: set[str] = set()
    for folder, _folders, files in os.walk(root, followlinks=True):
        here = Path(folder).relative_to(root)
        names |= {(here / name).as_posix().removesuffix(".zip") for name in files if name.endswith(".zip")}
        if "stops.txt" in files:
            names.add(here.as_posix())
    return sorted(name for name in names if name != "." and FEED_NAME.match(name))


def default_feed(names: list[str]) -> str | None:
    """The feed a planner page opens on: the demo city's (a name ending in `simulated`) when there is one,
    else the first by name."""
    simulated = [name for name in names if name.rsplit("/", 1)[-1].endswith("simulated")]
    found = simulated or names
    return found[0] if found else None


def feed_path(realdata: Path, name: str) -> Path | None:
    if name not in feeds(realdata):
        return None
    zipped = realdata / "gtfs" / f"{name}.zip"
    return zipped if zipped.exists() else realdata / "gtfs" / name


@lru_cache(maxsize=8)
def stops(path: Path) -> dict[str, Any]:
    """The feed's stops as GeoJSON points (properties: stop_id, name)."""
    feed = read_feed(path, name=path.name.removesuffix(".zip"))
    table = feed.get("stops.txt")
    ids, names = table["stop_id"].to_pylist(), table["stop_name"].to_pylist()
    lats = pc.cast(table["stop_lat"], "float64").to_pylist()
    lons = pc.cast(table["stop_lon"], "float64").to_pylist()
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"stop_id": stop_id, "name": name},
        }
        for stop_id, name, lat, lon in zip(ids, names, lats, lons, strict=True)
        if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0)
    ]
    return {"type": "FeatureCollection", "features": features[:STOP_LIMIT]}


@lru_cache(maxsize=8)
def service_range(path: Path) -> tuple[date, date] | None:
    """First and last day of the feed's calendar (calendar.txt, else calendar_dates.txt)."""
    feed = read_feed(path, name=path.name.removesuffix(".zip"))
    days: list[date] = []
    if feed.has("calendar.txt"):
        table = feed.get("calendar.txt")
        days += [
            parse_date(str(text)) for text in table["start_date"].to_pylist() + table["end_date"].to_pylist()
        ]
    if feed.has("calendar_dates.txt"):
        days += [parse_date(str(text)) for text in feed.get("calendar_dates.txt")["date"].to_pylist()]
    return (min(days), max(days)) if days else None


def default_day(path: Path, today: date) -> date:
    """Today when the feed runs then, else the first weekday (Tuesday to Thursday) of its calendar."""
    found = service_range(path)
    if found is None or found[0] <= today <= found[1]:
        return today
    day = found[0]
    while day.weekday() not in (1, 2, 3) and day < found[1]:
        day += timedelta(days=1)
    return day


def bikeshares(realdata: Path) -> list[str]:
    """Names of the GBFS systems under `<realdata>/bikeshare/` (folders with station_information.json)."""
    root = realdata / "bikeshare"
    if not root.is_dir():
        return []
    return sorted(path.parent.name for path in root.glob("*/station_information.json"))


@lru_cache(maxsize=4)
def _stations(path: Path) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [station.lon, station.lat]},
            "properties": {
                "station_id": station.station_id,
                "name": station.name,
                "capacity": station.capacity,
            },
        }
        for station in read_station_information(path.read_bytes())
    ]
    return {"type": "FeatureCollection", "features": features[:STOP_LIMIT]}


def bike_stations(realdata: Path, name: str) -> dict[str, Any] | None:
    """The system's stations as GeoJSON points; None when `name` is not a system under the real data."""
    if name not in bikeshares(realdata):
        return None
    return _stations(realdata / "bikeshare" / name / "station_information.json")
