"""Planning from the command line (`dthub plan`): feeds by the name they landed as in `transit.*`, read
through the hub as the planner's service identity (`transit.landed`: application `maas-planner`,
access-checked, audited for trip planning, as the plan API reads them), places as stop ids or `lat,lon`, the
network loaded under a progress bar, itineraries as a table (with their fares) or the plan JSON."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dthub.domains.transit.api import TIME, is_feed_name
from dthub.domains.transit.landed import landed_feed, landed_feeds, planner
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub.core import Hub

COORDINATES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class PlanInputError(ValueError):
    """A feed, place or time the planner cannot use; the message quotes it."""


def feed_names(names: Sequence[str], landed: Sequence[str]) -> list[str]:
    """The feeds named, each a landed one; a name that is not a feed name, or a feed not landed (the
    message lists those landed), is a `PlanInputError`."""
    for name in names:
        if not is_feed_name(name):
            raise PlanInputError(f"not a feed name: {name!r} (e.g. subway)")
        if name not in landed:
            listed = ", ".join(landed) or "none (land one: dthub ingest -a gtfs.<file> feed.zip)"
            raise PlanInputError(f"no landed GTFS feed {name!r}; landed: {listed}")
    return list(names)


def seconds(text: str) -> int:
    """`HH:MM[:SS]` of the service day, in seconds (hours may pass 24)."""
    match = TIME.match(text)
    if match is None:
        raise PlanInputError(f"want a time HH:MM[:SS], got {text!r}")
    return int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3] or 0)


def load_network(
    hub: Hub,
    names: Sequence[str],
    day: date,
    *,
    walk_radius_m: float,
    walk_speed_mps: float,
    console: Console,
) -> Timetable:
    """Read the landed feeds as the planner (`landed.PlannerUnavailable` when it is not provisioned:
    `dthub access planner`) and build the day's timetable under a progress bar (one step to list the landed
    feeds, one per feed, one to build)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("读取 reading the landed feeds", total=len(names) + 2)
        consumer = planner(hub)
        wanted = feed_names(names, landed_feeds(hub, consumer))
        progress.advance(task)
        feeds = []
        for name in wanted:
            progress.update(task, description=f"读取 reading {name}")
            feeds.append(landed_feed(hub, consumer, name))
            progress.advance(task)
        progress.update(task, description=f"构建 building the timetable of {day.isoformat()}")
        timetable = build_timetable(feeds, day, walk_radius_m=walk_radius_m, walk_speed_mps=walk_speed_mps)
        progress.advance(task)
    return timetable


def place(tt: Timetable, text: str) -> tuple[float, float]:
    """(lat, lon) of `lat,lon`, of a stop id `<feed>:<stop_id>`, or of a bare stop id found in one feed."""
    match = COORDINATES.match(text)
    if match is not None:
        lat, lon = float(match[1]), float(match[2])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise PlanInputError(f"not a WGS-84 lat,lon: {text!r}")
        return lat, lon
    ids = tt.stop_ids.tolist()
    found = [n for n, stop_id in enumerate(ids) if stop_id == text or stop_id.split(":", 1)[1] == text]
    if not found:
        raise PlanInputError(f"no stop {text!r} in the feeds (give <feed>:<stop_id> or lat,lon)")
    if len(found) > 1:
        raise PlanInputError(f"stop {text!r} is in several feeds: {', '.join(ids[n] for n in found)}")
    return float(tt.stop_lat[found[0]]), float(tt.stop_lon[found[0]])


def clock(s: int) -> str:
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def itineraries_table(answer: dict[str, Any]) -> Table:
    """One row per leg of each itinerary: mode, route, from, to, times, and the itinerary's fare."""
    table = Table(title=f"行程 Itineraries, service day {answer['plan']['serviceDate']}")
    for column in (
        "#",
        "方式 mode",
        "线路 route",
        "上车 from",
        "下车 to",
        "出发 dep",
        "到达 arr",
        "票价 fare",
    ):
        table.add_column(column)
    for number, itinerary in enumerate(answer["plan"]["itineraries"], start=1):
        fare = itinerary.get("fare")
        price = fare["fare"]["regular"] if fare else None
        total = f"{price['currency']['symbol']}{price['cents'] / 100:.2f}" if price else "-"
        for n, leg in enumerate(itinerary["legs"]):
            table.add_row(
                str(number) if n == 0 else "",
                leg["mode"],
                leg.get("route", ""),
                leg["from"]["name"],
                leg["to"]["name"],
                clock(leg["startTime"]),
                clock(leg["endTime"]),
                total if n == 0 else "",
            )
    return table
