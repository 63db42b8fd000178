"""Feeds read back from the landed `transit.*` datasets plan exactly as the files they landed from (their
minimum transfer times and time zone included); landed TripUpdate rows become the TripUpdates of their latest
FeedMessage; landed GBFS status gives each station's availability as the files do."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dthub.domains.transit.gbfs import network_at, read_station_information, read_station_status
from dthub.domains.transit.gtfs import feed_bytes, read_feed
from dthub.domains.transit.ingest.gtfs import ADAPTERS, GtfsAgency
from dthub.domains.transit.landed import (
    bike_stations,
    bike_status,
    landed_feed,
    planner,
    provision_planner,
    updates_of,
)
from dthub.domains.transit.plan import plan
from dthub.domains.transit.realtime import Schedule, StopTimeEvent, StopTimeUpdate, TripRef, TripUpdate
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.ingest import ingest_bytes
from fixtures.planner import BOULDER, BOULDER_GBFS, FEEDS, PlannerHub, planner_app

__all__ = ["planner_app"]

DAYS = {"cairns": date(2014, 6, 4), "metro": date(2019, 5, 1), "subway": date(2026, 10, 7)}


def network(tt: Timetable) -> dict[str, Any]:
    """A timetable by ids, whatever order its stops, trips and patterns are in: stops with name and place,
    each trip with its route and its (stop, arrival, departure) in order, footpaths with their seconds."""
    trips = {}
    for p in range(tt.patterns):
        positions = np.arange(tt.pattern_start[p], tt.pattern_start[p + 1])
        stops = [str(s) for s in tt.stop_ids[tt.position_stop[positions]]]
        for n in range(tt.pattern_trips(p)):
            trip = int(tt.pattern_trip_start[p]) + n
            times = [tt.times(int(g), n) for g in positions]
            route = int(tt.trip_route[trip])
            trips[str(tt.trip_ids[trip])] = (
                str(tt.route_ids[route]), str(tt.route_names[route]), str(tt.route_modes[route]),
                str(tt.trip_headsign[trip]), list(zip(stops, times, strict=True)),
            )  # fmt: skip
    footpaths = {
        (str(tt.stop_ids[s]), str(tt.stop_ids[tt.footpath_to[f]]), int(tt.footpath_s[f]))
        for s in range(tt.stops)
        for f in range(int(tt.footpath_start[s]), int(tt.footpath_start[s + 1]))
    }
    places = {
        str(i): (str(n), float(a), float(o))
        for i, n, a, o in zip(tt.stop_ids, tt.stop_names, tt.stop_lat, tt.stop_lon, strict=True)
    }
    return {"day": tt.day, "stops": places, "trips": trips, "footpaths": footpaths}


@pytest.mark.parametrize("name", ["cairns", "metro", "subway"])
def test_a_landed_feed_gives_the_timetable_of_its_file(planner_app: PlannerHub, name: str) -> None:
    hub = planner_app.hub
    landed = landed_feed(hub, planner(hub), name)
    from_file = read_feed(FEEDS[name], name=name)
    for file in ("agency.txt", "stops.txt", "trips.txt", "stop_times.txt", "transfers.txt"):
        assert landed.has(file) == from_file.has(file), file
        assert landed.get(file).num_rows == from_file.get(file).num_rows, file
    assert Schedule(landed).timezone == Schedule(from_file).timezone
    day = DAYS[name]
    want = network(build_timetable([from_file], day, walk_radius_m=400))
    assert len(want["trips"]) > 100
    assert network(build_timetable([landed], day, walk_radius_m=400)) == want


def test_random_plans_on_the_landed_nyc_subway_are_those_on_its_file(planner_app: PlannerHub) -> None:
    """300 seeded random stop-to-stop plans in the morning: the same itineraries (the feed's 180 s
    transfers between platforms included) whether the timetable is built from the file or the landed rows."""
    hub = planner_app.hub
    day = DAYS["subway"]
    landed = build_timetable([landed_feed(hub, planner(hub), "subway")], day, walk_radius_m=400)
    from_file = build_timetable([read_feed(FEEDS["subway"], name="subway")], day, walk_radius_m=400)
    rng = random.Random(300)
    stops = range(from_file.stops)
    differ, found = [], 0
    for _ in range(300):
        a, b = rng.sample(stops, 2)
        start, end = ((float(from_file.stop_lat[s]), float(from_file.stop_lon[s])) for s in (a, b))
        leave = rng.randrange(6 * 3600, 10 * 3600)
        want = plan(from_file, start, end, leave, access_radius_m=200, max_rounds=5)["plan"]["itineraries"]
        got = plan(landed, start, end, leave, access_radius_m=200, max_rounds=5)["plan"]["itineraries"]
        found += bool(want)
        if got != want:
            differ.append((str(from_file.stop_ids[a]), str(from_file.stop_ids[b]), leave))
    assert found > 250
    assert differ == []


TINY = {
    "agency.txt": "agency_name,agency_url,agency_timezone\nTiny,https://example.org,Europe/Paris\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nA,Alpha,48.85,2.35\nB,Beta,48.86,2.36\n",
    "routes.txt": "route_id,route_short_name,route_type\nR,1,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR,WK,T\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T,08:00:00,08:00:00,A,1\nT,08:05:00,08:05:00,B,2\n",
}


def test_a_feed_landed_without_its_agency_takes_the_hubs_time_zone(hub: Hub, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    for name, text in TINY.items():
        (folder / name).write_text(text)
    data = feed_bytes(folder)
    for adapter in ADAPTERS:
        if adapter.name != "gtfs.agency":
            ingest_bytes(hub, replace(adapter, feed="tiny"), data, source=str(folder))
    admin = identity.add_person(hub.store, "root", name="root", password="correct horse battery",
                                role=Role.ADMIN, clearance=Level.CORE, by="cli")  # fmt: skip
    provision_planner(hub, admin)
    assert hub.settings.transit_timezone == "Asia/Shanghai"
    assert str(Schedule(landed_feed(hub, planner(hub), "tiny")).timezone) == "Asia/Shanghai"
    ingest_bytes(hub, GtfsAgency(feed="tiny"), data, source=str(folder))
    assert str(Schedule(landed_feed(hub, planner(hub), "tiny")).timezone) == "Europe/Paris"


T0 = datetime(2019, 5, 1, 13, 0, tzinfo=UTC)
T1 = datetime(2019, 5, 1, 13, 0, 30, tzinfo=UTC)


def row(feed_time: datetime, entity: str, index: int, trip: str, **values: Any) -> dict[str, Any]:
    base = dict.fromkeys(
        ("route_id", "direction_id", "start_time", "vehicle_id", "trip_delay_s", "stop_sequence", "stop_id",
         "arrival_delay_s", "arrival_time", "departure_delay_s", "departure_time", "stop_relationship"),
    )  # fmt: skip
    return {**base, "source": "metro", "feed_time": feed_time.replace(tzinfo=None), "entity_id": entity,
            "update_index": index, "trip_id": trip, "start_date": "20190501",
            "trip_relationship": "SCHEDULED", **values}  # fmt: skip


def test_each_trip_takes_the_updates_of_its_latest_message_in_order() -> None:
    rows = [
        row(T0, "a", 0, "trip-1", stop_sequence=3, arrival_delay_s=60),
        row(T1, "a", 1, "trip-1", stop_sequence=9, departure_time=T1.replace(tzinfo=None)),
        row(T1, "a", 0, "trip-1", stop_sequence=5, arrival_delay_s=120, stop_relationship="SCHEDULED"),
        row(T0, "b", -1, "trip-2", trip_relationship="CANCELED"),
    ]
    assert updates_of(rows) == [
        TripUpdate(
            entity_id="a",
            trip=TripRef(trip_id="trip-1", start_date="20190501"),
            timestamp=int(T1.timestamp()),
            updates=(
                StopTimeUpdate(stop_sequence=5, arrival=StopTimeEvent(delay=120)),
                StopTimeUpdate(stop_sequence=9, departure=StopTimeEvent(time=int(T1.timestamp()))),
            ),
        ),
        TripUpdate(
            entity_id="b",
            trip=TripRef(trip_id="trip-2", start_date="20190501", schedule_relationship="CANCELED"),
            timestamp=int(T0.timestamp()),
        ),
    ]


def test_landed_bike_share_gives_the_availability_of_its_files(planner_app: PlannerHub) -> None:
    hub, folder = planner_app.hub, BOULDER_GBFS
    stations = read_station_information((folder / "station_information.json").read_bytes())
    snapshots = sorted(
        (
            s
            for path in sorted(folder.glob("station_status*.json*"))
            for s in read_station_status(path.read_bytes())
        ),
        key=lambda s: s.last_updated,
    )
    consumer = planner(hub)
    landed = bike_stations(hub, consumer, BOULDER)
    assert sorted(landed, key=lambda s: s.station_id) == sorted(stations, key=lambda s: s.station_id)
    for at in (None, snapshots[0].last_updated, snapshots[700].last_updated + 30):
        moment = datetime.fromtimestamp(at, UTC) if at is not None else None
        got = network_at(landed, bike_status(hub, consumer, BOULDER, moment), at)
        want = network_at(landed, snapshots, at)
        assert got.at == want.at
        for name in ("bikes", "docks", "pickup", "dropoff"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), (at, name)
