"""Realtime delays in the plan API: a GTFS-RT TripUpdate for a real trip of Metro Transit's sample feed
(Minneapolis, 2019; the published sample has VehiclePositions only, so the TripUpdate is constructed) landed
through `gtfsrt.trip_updates` beside the landed static feed. The plan changes exactly as
`apply_trip_updates` + RAPTOR say, every ride is a real trip of the realtime timetable, and stale, future
or switched-off realtime plans on the schedule."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt

from dthub.domains.transit.api import STATE_TTL_S
from dthub.domains.transit.gtfs import Feed, read_feed
from dthub.domains.transit.plan import plan, scheduled_times
from dthub.domains.transit.realtime import Schedule, StopTimeEvent, StopTimeUpdate, TripRef, TripUpdate
from dthub.domains.transit.realtime_apply import apply_trip_updates
from dthub.domains.transit.realtime_ingest import GtfsRtTripUpdates
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub.ingest import ingest_bytes
from fixtures.planner import FEEDS, PlannerHub, planner_app

__all__ = ["planner_app"]

DAY = date(2019, 5, 1)
TRIP = "14497343-MAR19-MVS-BUS-Weekday-01"
DELAY_S, FROM_SEQUENCE = 120, 5
SENT = datetime(2019, 5, 1, 13, 0, tzinfo=UTC)
"""08:00 in Minneapolis: when the constructed FeedMessage is sent."""
OTP_REALTIME = ("realTime", "departureDelay", "arrivalDelay")
DELAYED = TripUpdate(
    entity_id="constructed-1",
    trip=TripRef(trip_id=TRIP, start_date="20190501"),
    updates=(StopTimeUpdate(stop_sequence=FROM_SEQUENCE, arrival=StopTimeEvent(delay=DELAY_S)),),
)
"""What `trip_update_message` sends, decoded."""


def trip_update_message() -> bytes:
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(SENT.timestamp())
    entity = message.entity.add()
    entity.id = "constructed-1"
    entity.trip_update.trip.trip_id = TRIP
    entity.trip_update.trip.start_date = "20190501"
    stop = entity.trip_update.stop_time_update.add()
    stop.stop_sequence = FROM_SEQUENCE
    stop.arrival.delay = DELAY_S
    return bytes(message.SerializeToString())


@pytest.fixture(scope="module")
def landed(planner_app: PlannerHub) -> PlannerHub:
    result = ingest_bytes(planner_app.hub, GtfsRtTripUpdates(source="metro"), trip_update_message(),
                          source="constructed-metro-trip-updates-20190501T1300Z.pb")  # fmt: skip
    assert (result.landed, result.quarantined) == (1, 0)
    time.sleep(STATE_TTL_S)  # the planner sees a landing within that
    return planner_app


@pytest.fixture(scope="module")
def metro() -> Feed:
    return read_feed(FEEDS["metro"], name="metro")


@pytest.fixture(scope="module")
def scheduled(metro: Feed) -> Timetable:
    return build_timetable([metro], DAY, walk_radius_m=400, walk_speed_mps=1.2)


def trip_ends(tt: Timetable) -> tuple[tuple[float, float], tuple[float, float], int]:
    """The trip's first and last stops (lat, lon) and its scheduled departure from the first."""
    trip = list(tt.trip_ids).index(f"metro:{TRIP}")
    pattern = int(np.searchsorted(tt.pattern_trip_start, trip, side="right") - 1)
    first, last = int(tt.pattern_start[pattern]), int(tt.pattern_start[pattern + 1]) - 1
    a, b = int(tt.position_stop[first]), int(tt.position_stop[last])
    leave = tt.times(first, trip - int(tt.pattern_trip_start[pattern]))[1]
    return (
        (float(tt.stop_lat[a]), float(tt.stop_lon[a])),
        (float(tt.stop_lat[b]), float(tt.stop_lon[b])),
        leave,
    )


def ask(client: TestClient, origin: Any, destination: Any, leave: int, **changes: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/maas/plan", json={
        "from_lat": origin[0], "from_lon": origin[1], "to_lat": destination[0], "to_lon": destination[1],
        "date": DAY.isoformat(), "time": f"{leave // 3600:02d}:{leave % 3600 // 60:02d}:{leave % 60:02d}",
        "feeds": ["metro"], **changes,
    })  # fmt: skip
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def without_realtime_marks(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**i, "legs": [{k: v for k, v in leg.items() if k not in OTP_REALTIME} for leg in i["legs"]]}
        for i in answer["plan"]["itineraries"]
    ]


def test_a_delayed_trip_moves_the_itinerary_as_apply_trip_updates_and_raptor_say(
    landed: PlannerHub, metro: Feed, scheduled: Timetable
) -> None:
    origin, destination, leave = trip_ends(scheduled)
    realtime_tt = apply_trip_updates(scheduled, [DELAYED], static=metro).timetable
    want = plan(
        realtime_tt, origin, destination, leave, access_radius_m=400, walk_speed_mps=1.2, max_rounds=5
    )
    on_schedule = plan(
        scheduled, origin, destination, leave, access_radius_m=400, walk_speed_mps=1.2, max_rounds=5
    )

    answer = ask(
        TestClient(landed.app),
        origin,
        destination,
        leave,
        realtime_at=(SENT + timedelta(seconds=30)).isoformat(),
    )

    assert without_realtime_marks(answer) == want["plan"]["itineraries"]
    assert answer["plan"]["realtime"] == {
        "at": "2019-05-01T13:00:30+00:00",
        "updated": 1,
        "cancelled": 0,
        "unapplied": {},
    }
    fastest, before = answer["plan"]["itineraries"][-1], on_schedule["plan"]["itineraries"][-1]
    assert fastest["endTime"] == before["endTime"] + DELAY_S  # the same bus, two minutes late
    (ride,) = [leg for leg in fastest["legs"] if leg["transitLeg"]]
    assert (ride["tripId"], ride["realTime"], ride["departureDelay"], ride["arrivalDelay"]) == (
        f"metro:{TRIP}",
        True,
        0,
        DELAY_S,  # boarded at the first stop, before the delayed ones
    )
    # feasible on the realtime timetable: each ride is its trip's realtime times, legs in order
    trips = {str(t): n for n, t in enumerate(realtime_tt.trip_ids)}
    for itinerary in answer["plan"]["itineraries"]:
        clock = leave
        for leg in itinerary["legs"]:
            assert leg["startTime"] >= clock
            if leg["transitLeg"]:
                times = scheduled_times(
                    realtime_tt, trips[leg["tripId"]], leg["from"]["stopId"], leg["to"]["stopId"]
                )
                assert times == (leg["startTime"], leg["endTime"])
            clock = leg["endTime"]
        assert clock == itinerary["endTime"]


@pytest.mark.parametrize(
    "changes",
    [
        {"realtime": False},
        {"realtime_at": (SENT - timedelta(seconds=1)).isoformat()},  # before the update was sent
        {"realtime_at": (SENT + timedelta(seconds=301)).isoformat()},  # stale: older than 300 s
    ],
)
def test_without_realtime_or_with_none_that_holds_the_plan_is_the_schedule(
    landed: PlannerHub, scheduled: Timetable, changes: dict[str, Any]
) -> None:
    origin, destination, leave = trip_ends(scheduled)
    on_schedule = plan(
        scheduled, origin, destination, leave, access_radius_m=400, walk_speed_mps=1.2, max_rounds=5
    )
    answer = ask(TestClient(landed.app), origin, destination, leave, **changes)
    assert without_realtime_marks(answer) == on_schedule["plan"]["itineraries"]
    assert answer["plan"]["realtime"]["updated"] == 0
    rides = [leg for i in answer["plan"]["itineraries"] for leg in i["legs"] if leg["transitLeg"]]
    assert rides
    assert all(not leg["realTime"] and leg["arrivalDelay"] == 0 for leg in rides)


SECOND_TRIP = "14497268-MAR19-MVS-BUS-Weekday-01"
LATER = SENT + timedelta(seconds=60)


def test_absolute_times_are_read_in_the_feeds_time_zone(
    landed: PlannerHub, metro: Feed, scheduled: Timetable
) -> None:
    """A TripUpdate with an absolute arrival time (POSIX seconds) at the 4th stop, 4 minutes late: applied
    from the landed feed in its landed agency_timezone (America/Chicago; the hub's `DTHUB_TRANSIT_TIMEZONE`
    is Asia/Shanghai here) as from the file's agency.txt."""
    assert landed.hub.settings.transit_timezone != "America/Chicago"
    trip = list(scheduled.trip_ids).index(f"metro:{SECOND_TRIP}")
    pattern = int(np.searchsorted(scheduled.pattern_trip_start, trip, side="right") - 1)
    row = trip - int(scheduled.pattern_trip_start[pattern])
    positions = np.arange(scheduled.pattern_start[pattern], scheduled.pattern_start[pattern + 1])
    stop_ids = [str(s).removeprefix("metro:") for s in scheduled.stop_ids[scheduled.position_stop[positions]]]
    late_at = Schedule(metro).day_origin(DAY) + scheduled.times(int(positions[3]), row)[0] + 240
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(LATER.timestamp())
    entity = message.entity.add()
    entity.id = "constructed-2"
    entity.trip_update.trip.trip_id = SECOND_TRIP
    entity.trip_update.trip.start_date = "20190501"
    stop = entity.trip_update.stop_time_update.add()
    stop.stop_id = stop_ids[3]
    stop.arrival.time = late_at
    ingest_bytes(landed.hub, GtfsRtTripUpdates(source="metro"), bytes(message.SerializeToString()),
                 source="constructed-metro-trip-updates-20190501T1301Z.pb")  # fmt: skip
    time.sleep(STATE_TTL_S)
    absolute = TripUpdate(
        entity_id="constructed-2",
        trip=TripRef(trip_id=SECOND_TRIP, start_date="20190501"),
        updates=(StopTimeUpdate(stop_id=stop_ids[3], arrival=StopTimeEvent(time=late_at)),),
    )
    realtime_tt = apply_trip_updates(scheduled, [DELAYED, absolute], static=metro).timetable
    first = positions[0]
    origin = (
        float(scheduled.stop_lat[scheduled.position_stop[first]]),
        float(scheduled.stop_lon[scheduled.position_stop[first]]),
    )
    last = scheduled.position_stop[positions[-1]]
    destination = (float(scheduled.stop_lat[last]), float(scheduled.stop_lon[last]))
    leave = scheduled.times(int(first), row)[1]
    want = plan(
        realtime_tt, origin, destination, leave, access_radius_m=400, walk_speed_mps=1.2, max_rounds=5
    )
    answer = ask(
        TestClient(landed.app),
        origin,
        destination,
        leave,
        realtime_at=(LATER + timedelta(seconds=5)).isoformat(),
    )
    assert without_realtime_marks(answer) == want["plan"]["itineraries"]
    assert answer["plan"]["realtime"]["updated"] == 2
    rides = [
        leg for leg in answer["plan"]["itineraries"][-1]["legs"] if leg["tripId"] == f"metro:{SECOND_TRIP}"
    ]
    assert [(leg["realTime"], leg["arrivalDelay"]) for leg in rides] == [(True, 240)]
