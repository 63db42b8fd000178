"""Bike-share legs in the planner: a bike-only itinerary on the real Boulder BCycle stations and status, and
a transit + bike itinerary on the real NYC subway timetable with two constructed stations (the shared data
has no bike-share feed for New York; the stations and their counts below are made up for the test)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from domains.transit.test_gbfs import FOLSOM_COLORADO, INFORMATION, PEARL_STREET, STATUS
from dthub.domains.transit.gbfs import (
    BikeRules,
    Station,
    StationStatus,
    StatusSnapshot,
    network_at,
    read_station_information,
    read_station_status,
)
from dthub.domains.transit.geo import distance_m
from dthub.domains.transit.plan import BikeShare, plan
from dthub.domains.transit.timetable import Timetable
from fixtures.hub import need_realdata
from fixtures.planner import PlannerHub, planner_app

__all__ = ["planner_app"]

YORK_AVENUE = (40.7700, -73.9500)
"""Upper East Side, 722 m from the nearest subway stop (72 St, Q)."""
BARCLAYS_CENTER = (40.6840, -73.9776)
EIGHT_THIRTY = 8 * 3600 + 30 * 60


def chained(itinerary: dict[str, Any]) -> None:
    legs = itinerary["legs"]
    assert legs[0]["startTime"] == itinerary["startTime"]
    assert legs[-1]["endTime"] == itinerary["endTime"]
    for a, b in itertools.pairwise(legs):
        assert a["endTime"] <= b["startTime"]
        assert (a["to"]["lat"], a["to"]["lon"]) == (b["from"]["lat"], b["from"]["lon"])


def test_bike_only_itinerary_in_boulder_rides_from_a_station_with_bikes(nyc_timetable: Timetable) -> None:
    stations = read_station_information(need_realdata(INFORMATION).read_bytes())
    snapshots = read_station_status(need_realdata(STATUS).read_bytes())
    net = network_at(stations, snapshots, snapshots[0].last_updated)
    assert net.bikes[0] == 0  # Folsom & Colorado, at the origin, is empty at the first poll
    bikes = BikeShare("boulder_bcycle", net, BikeRules(walk_radius_m=1200, ride_speed_mps=5.0))
    # no transit in Boulder in this timetable: only the bike-only itinerary
    answer = plan(nyc_timetable, FOLSOM_COLORADO, PEARL_STREET, EIGHT_THIRTY, bikes=bikes)
    (itinerary,) = answer["plan"]["itineraries"]
    chained(itinerary)
    modes = [leg["mode"] for leg in itinerary["legs"]]
    assert modes == ["WALK", "BICYCLE", "WALK"]
    ride = itinerary["legs"][1]
    assert ride["rentedBike"] is True
    assert ride["operator"] == "boulder_bcycle"
    assert ride["from"]["bikeShareId"] != "bcycle_boulder_1855"
    assert ride["from"]["bikesAvailable"] > 0
    assert ride["to"]["spacesAvailable"] > 0
    faster = plan(
        nyc_timetable,
        FOLSOM_COLORADO,
        PEARL_STREET,
        EIGHT_THIRTY,
        bikes=BikeShare("boulder_bcycle", net, BikeRules(walk_radius_m=1200, ride_speed_mps=7.0)),
    )
    assert faster["plan"]["itineraries"][0]["legs"][1]["duration"] < ride["duration"]  # ride speed counts


def york_avenue_bikes(tt: Timetable, *, bikes_at_york: int) -> BikeShare:
    """Constructed: a station at York Avenue, an empty one beside it, and one at the nearest subway stop."""
    metres = distance_m(
        np.full(tt.stops, YORK_AVENUE[0]), np.full(tt.stops, YORK_AVENUE[1]), tt.stop_lat, tt.stop_lon
    )
    stop = int(np.argmin(metres))
    stations = [
        Station(
            station_id="york", name="York Av (constructed)", lat=YORK_AVENUE[0] + 0.0003, lon=YORK_AVENUE[1]
        ),
        Station(
            station_id="empty", name="Empty (constructed)", lat=YORK_AVENUE[0], lon=YORK_AVENUE[1] + 0.0002
        ),
        Station(
            station_id="q72",
            name="72 St (constructed)",
            lat=float(tt.stop_lat[stop]) + 0.0003,
            lon=float(tt.stop_lon[stop]),
        ),
    ]

    def status(station_id: str, bikes: int, docks: int) -> StationStatus:
        return StationStatus(
            station_id=station_id,
            bikes=bikes,
            docks=docks,
            installed=True,
            renting=True,
            returning=True,
            last_reported=0,
        )

    snapshot = StatusSnapshot(
        last_updated=0,
        stations=(status("york", bikes_at_york, 5), status("empty", 0, 9), status("q72", 0, 4)),
    )
    return BikeShare("citibike (constructed)", network_at(stations, [snapshot], None))


def test_transit_and_bike_arrives_earlier_than_walking_to_the_subway(nyc_timetable: Timetable) -> None:
    bikes = york_avenue_bikes(nyc_timetable, bikes_at_york=3)
    answer = plan(nyc_timetable, YORK_AVENUE, BARCLAYS_CENTER, EIGHT_THIRTY, bikes=bikes)
    itineraries = answer["plan"]["itineraries"]
    walking = [i for i in itineraries if "BICYCLE" not in {leg["mode"] for leg in i["legs"]}]
    biking = [i for i in itineraries if "BICYCLE" in {leg["mode"] for leg in i["legs"]}]
    assert walking
    assert biking
    best_walking = min(i["endTime"] for i in walking)
    for itinerary in biking:
        chained(itinerary)
        assert itinerary["endTime"] < best_walking
        modes = [leg["mode"] for leg in itinerary["legs"]]
        assert modes[:3] == ["WALK", "BICYCLE", "WALK"]
        assert "SUBWAY" in modes
        ride = itinerary["legs"][1]
        assert ride["from"]["bikeShareId"] == "york"  # not the empty station, though it is as near
        assert ride["to"]["bikeShareId"] == "q72"  # no bikes there, but docks: a drop-off
    for itinerary in walking:
        chained(itinerary)


@pytest.mark.parametrize("bikes_at_york", [0])
def test_without_a_bike_at_the_origin_there_is_no_bike_leg(
    nyc_timetable: Timetable, bikes_at_york: int
) -> None:
    bikes = york_avenue_bikes(nyc_timetable, bikes_at_york=bikes_at_york)
    answer = plan(nyc_timetable, YORK_AVENUE, BARCLAYS_CENTER, EIGHT_THIRTY, bikes=bikes)
    itineraries = answer["plan"]["itineraries"]
    assert itineraries
    assert all(leg["mode"] != "BICYCLE" for i in itineraries for leg in i["legs"])


def test_plan_api_offers_the_bike_with_the_status_of_the_moment_asked(planner_app: PlannerHub) -> None:
    snapshots = read_station_status(need_realdata(STATUS).read_bytes())
    body = {
        "from_lat": FOLSOM_COLORADO[0],
        "from_lon": FOLSOM_COLORADO[1],
        "to_lat": PEARL_STREET[0],
        "to_lon": PEARL_STREET[1],
        "date": "2014-06-04",
        "time": "08:30",
        "feeds": ["cairns"],  # landed Cairns: no transit near Boulder, the bike-only itinerary
        "walk_radius_m": 1200,
        "bikeshare": "boulder_bcycle_gbfs",
        "bike_status_at": datetime.fromtimestamp(snapshots[0].last_updated, UTC).isoformat(),
    }
    client = TestClient(planner_app.app)
    answer = client.post("/api/v1/maas/plan", json=body)
    missing = client.post("/api/v1/maas/plan", json={**body, "bikeshare": "nowhere"})
    bad = client.post("/api/v1/maas/plan", json={**body, "bike_status_at": "yesterday"})
    assert answer.status_code == 200, answer.text
    (itinerary,) = answer.json()["plan"]["itineraries"]
    chained(itinerary)
    ride = next(leg for leg in itinerary["legs"] if leg["mode"] == "BICYCLE")
    assert ride["from"]["bikeShareId"] != "bcycle_boulder_1855"  # empty at that poll
    assert (missing.status_code, missing.json()["error"]) == (404, "feed.not_found")
    assert (bad.status_code, bad.json()["error"]) == (422, "request.invalid")
