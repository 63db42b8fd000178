"""Realtime and operations work on real data: applying GTFS-RT TripUpdates to the NYC subway timetable
(Wed 2026-10-07; 1,000 trips delayed at a random stop, constructed: the published samples carry none), and
the AVL analytics of one Capital Metro day (2017-04-18, 44,300 fixes): stop passages, on-time performance,
headways and transfer connections.

    .venv/bin/python benchmarks/transit_operations.py

Prints one JSON line (median of 3 runs after a warm-up).
"""

from __future__ import annotations

import json
import random
from datetime import date

from dthub.domains.transit import avl
from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.realtime import StopTimeEvent, StopTimeUpdate, TripRef, TripUpdate
from dthub.domains.transit.realtime_apply import apply_trip_updates
from dthub.domains.transit.realtime_ingest import CapMetricsPositions
from dthub.domains.transit.timetable import build_timetable
from dthub.hub.settings import Settings
from timing import timed

NYC_DAY = date(2026, 10, 7)
AUSTIN_DAY = date(2017, 4, 18)
DELAYED = 1000


def main() -> None:
    data = Settings().realdata
    subway = read_feed(data / "gtfs" / "nyc_mta" / "subway.zip", name="subway")
    tt = build_timetable([subway], NYC_DAY)
    rng = random.Random(1)
    updates = []
    for n in rng.sample([n for n, t in enumerate(tt.trip_ids) if "@" not in str(t)], DELAYED):
        trip = int(n)
        pattern = int((tt.pattern_trip_start <= trip).sum() - 1)
        served = tt.position_stop[tt.pattern_start[pattern] : tt.pattern_start[pattern + 1]]
        stop = str(tt.stop_ids[rng.choice(served.tolist())]).removeprefix("subway:")
        trip_id = str(tt.trip_ids[trip]).removeprefix("subway:")
        updates.append(
            TripUpdate(
                entity_id=trip_id,
                trip=TripRef(trip_id=trip_id, start_date="20261007"),
                updates=(StopTimeUpdate(stop_id=stop, arrival=StopTimeEvent(delay=rng.randrange(-60, 900))),),
            )
        )
    apply_s, applied = timed(lambda: apply_trip_updates(tt, updates, static=subway))
    folder = data / "transit_avl" / "capmetro_austin"
    stops = avl.read_stops((folder / "stops_20160821_20170121.csv.gz").read_bytes())
    schedule = avl.read_schedule((folder / "schedule_20160821_20170121.csv.gz").read_bytes(), stops)
    fixes = avl.positions_from_table(
        CapMetricsPositions().parse((folder / "2017-04-18.csv").read_bytes()).rows
    )
    origin = avl.day_origin(AUSTIN_DAY, "America/Chicago")
    passages_s, found = timed(lambda: avl.passages(fixes, stops, schedule, origin=origin))
    on_time_s, timed_trips = timed(lambda: avl.on_time(found, schedule))
    headways_s, rows = timed(lambda: avl.headways(found, schedule, start_s=17 * 3600, end_s=24 * 3600))
    transfers_s, result = timed(lambda: avl.transfers(timed_trips, schedule, stops))
    print(
        json.dumps(
            {
                "benchmark": "transit_operations",
                "nyc_subway_trips": tt.trips,
                "trip_updates": DELAYED,
                "trips_updated": applied.updated,
                "apply_trip_updates_s": round(apply_s, 3),
                "capmetro_fixes": len(fixes.time),
                "traces": len(found.traces),
                "passages": sum(len(t.times) for t in found.traces),
                "avl_passages_s": round(passages_s, 3),
                "avl_on_time_s": round(on_time_s, 3),
                "headway_rows": len(rows),
                "avl_headways_s": round(headways_s, 3),
                "connections": len(result.connections),
                "avl_transfers_s": round(transfers_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
