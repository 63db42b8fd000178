"""RAPTOR on New York: preprocessing time and peak memory of the subway timetable (and subway + six bus
feeds with `--buses`) for Wed 2026-10-07, and latency of 1,000 random single-departure queries (with
`--range`: one-hour range queries, rRAPTOR over every departure from the origin within the hour).

    .venv/bin/python benchmarks/raptor_nyc.py [--buses] [--range]

Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
from datetime import date

import numpy as np

from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.raptor import earliest_arrival, range_query
from dthub.domains.transit.timetable import build_timetable
from dthub.hub.settings import Settings

DAY = date(2026, 10, 7)
BUSES = ("bus_bk", "bus_bx", "bus_m", "bus_qns", "bus_si", "bus_busco")
QUERIES = 1000


def main() -> None:
    folder = Settings().realdata.resolve() / "gtfs" / "nyc_mta"
    names = ("subway", *BUSES) if "--buses" in sys.argv else ("subway",)
    started = time.perf_counter()
    feeds = [read_feed(folder / f"{name}.zip", name=name) for name in names]
    read_s = time.perf_counter() - started
    built = time.perf_counter()
    tt = build_timetable(feeds, DAY)
    build_s = time.perf_counter() - built
    del feeds
    served = np.unique(tt.position_stop).tolist()
    rng = random.Random(1)
    ranged = "--range" in sys.argv
    earliest_arrival(tt, {served[0]: 8 * 3600}, {served[1]: 0}, max_rounds=8)  # compiles the numba loops
    latencies = []
    for _ in range(QUERIES):
        origin, target = rng.sample(served, 2)
        departure = rng.randrange(6 * 3600, 22 * 3600)
        t0 = time.perf_counter()
        if ranged:
            range_query(tt, {origin: 0}, {target: 0}, start=departure, end=departure + 3600, max_rounds=8)
        else:
            earliest_arrival(tt, {origin: departure}, {target: 0}, max_rounds=8)
        latencies.append((time.perf_counter() - t0) * 1000)
    figures = {
        "benchmark": "raptor_nyc",
        "command": " ".join(["python benchmarks/raptor_nyc.py", *sys.argv[1:]]),
        "query": "range_1h" if ranged else "single",
        "feeds": list(names),
        "day": DAY.isoformat(),
        "stops": tt.stops,
        "patterns": tt.patterns,
        "trips": tt.trips,
        "stop_times": len(tt.arrival),
        "footpaths": len(tt.footpath_to),
        "read_s": round(read_s, 2),
        "build_s": round(build_s, 2),
        "timetable_mb": round(tt.nbytes() / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "queries": QUERIES,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
