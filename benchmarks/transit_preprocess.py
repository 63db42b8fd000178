"""Preprocessing of two city networks: time and peak memory from the published files to a RAPTOR timetable.

- New York: the MTA subway + six bus feeds (`gtfs/nyc_mta/`), one weekday, Wed 2026-10-07: read the zips,
  merge them (`transit.merge`: linked stops, walks between feeds), build the day's timetable.
- Beijing subway (`gtfs/beijing_subway/`): read the per-station timetables, build trips from them
  (`transit.beijing`), write the GTFS-like feed, build the weekday timetable.

Each network runs in a child process of its own, so that its peak memory is its own: the peak resident
set size of that process (`resource.getrusage(RUSAGE_SELF).ru_maxrss`), not tracemalloc.

    .venv/bin/python benchmarks/transit_preprocess.py

Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import date
from typing import Any

from dthub.domains.transit.beijing import beijing_feed, build_trips, read_departures, read_interstation
from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.merge import merge_feeds
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub.settings import Settings

DAY = date(2026, 10, 7)
"""A Wednesday within every New York feed's calendar, and a weekday of Beijing's."""
NYC_FEEDS = ("subway", "bus_bk", "bus_bx", "bus_m", "bus_qns", "bus_si", "bus_busco")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def sizes(tt: Timetable) -> dict[str, Any]:
    today = sum(1 for trip in tt.trip_ids if not str(trip).endswith("@-1"))
    return {
        "stops": tt.stops,
        "patterns": tt.patterns,
        "trips": tt.trips,
        "trips_of_the_day": today,
        "stop_times": len(tt.arrival),
        "footpaths": len(tt.footpath_to),
        "timetable_mb": round(tt.nbytes() / 1e6, 1),
    }


def new_york() -> dict[str, Any]:
    folder = Settings().realdata.resolve() / "gtfs" / "nyc_mta"
    started = time.perf_counter()
    feeds = [read_feed(folder / f"{name}.zip", name=name) for name in NYC_FEEDS]
    read = time.perf_counter()
    network = merge_feeds(feeds)
    merged = time.perf_counter()
    tt = build_timetable(network, DAY)
    built = time.perf_counter()
    return {
        "network": "new_york",
        "feeds": list(NYC_FEEDS),
        "day": DAY.isoformat(),
        "read_s": round(read - started, 2),
        "merge_s": round(merged - read, 2),
        "timetable_s": round(built - merged, 2),
        "total_s": round(built - started, 2),
        "linked_stops": len(network.links),
        "transfers_between_feeds": len(network.transfer_s),
        **sizes(tt),
        "peak_rss_mb": peak_rss_mb(),
    }


def beijing() -> dict[str, Any]:
    root = Settings().realdata.resolve() / "gtfs" / "beijing_subway"
    interim = root / "data" / "interim"
    started = time.perf_counter()
    departures = read_departures(interim / "timetable.tar.gz")
    interstation = read_interstation(interim / "interstation_time")
    read = time.perf_counter()
    build = build_trips(departures, interstation)
    trips = time.perf_counter()
    feed = beijing_feed(root, build)
    written = time.perf_counter()
    tt = build_timetable([feed], DAY)
    built = time.perf_counter()
    return {
        "network": "beijing_subway",
        "day": DAY.isoformat(),
        "published_departures": len(departures),
        "built_trips": len(build.trips),
        "read_s": round(read - started, 2),
        "build_trips_s": round(trips - read, 2),
        "feed_s": round(written - trips, 2),
        "timetable_s": round(built - written, 2),
        "total_s": round(built - started, 2),
        **sizes(tt),
        "peak_rss_mb": peak_rss_mb(),
    }


NETWORKS = {"new_york": new_york, "beijing_subway": beijing}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--network":
        print(json.dumps(NETWORKS[sys.argv[2]]()))
        return
    results = []
    for name in NETWORKS:
        child = subprocess.run(
            [sys.executable, __file__, "--network", name], check=True, capture_output=True, text=True
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    figures = {
        "benchmark": "transit_preprocess",
        "command": "python benchmarks/transit_preprocess.py",
        "memory": "peak RSS of a child process per network (resource.getrusage ru_maxrss)",
        "networks": results,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
