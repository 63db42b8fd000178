"""Realtime delays applied to the timetable (GTFS-RT propagation rules), and RAPTOR planning on the result:
on the real Metro Transit sample feed and on the NYC subway, TripUpdates constructed for real trips (the
published samples carry no TripUpdates)."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import pytest

from domains.transit.test_raptor import HORIZON_S, ConnectionScan, assert_feasible
from dthub.domains.transit.gtfs import Feed, read_feed
from dthub.domains.transit.raptor import INF, earliest_arrival
from dthub.domains.transit.realtime import Schedule, StopTimeEvent, StopTimeUpdate, TripRef, TripUpdate
from dthub.domains.transit.realtime_apply import apply_trip_updates
from dthub.domains.transit.timetable import Timetable, build_timetable
from fixtures.hub import REALDATA, need_realdata

DAY = date(2019, 5, 1)
TRIP = "14497343-MAR19-MVS-BUS-Weekday-01"


@pytest.fixture(scope="module")
def metro() -> Feed:
    return read_feed(need_realdata(REALDATA / "gtfs_rt" / "speedrt" / "gtfs.zip"), name="metro")


@pytest.fixture(scope="module")
def metro_tt(metro: Feed) -> Timetable:
    return build_timetable([metro], DAY)


def trip_times(tt: Timetable, trip_id: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(stop ids, arrivals, departures) of a trip in a timetable."""
    trip = list(tt.trip_ids).index(trip_id)
    pattern = int(np.searchsorted(tt.pattern_trip_start, trip, side="right") - 1)
    row = trip - int(tt.pattern_trip_start[pattern])
    positions = np.arange(tt.pattern_start[pattern], tt.pattern_start[pattern + 1])
    cells = tt.column_start[positions] + row
    stops = [str(s) for s in tt.stop_ids[tt.position_stop[positions]]]
    return stops, tt.arrival[cells].astype(np.int64), tt.departure[cells].astype(np.int64)


def update(*stops: StopTimeUpdate, trip: str = TRIP, relationship: str = "SCHEDULED") -> TripUpdate:
    return TripUpdate(
        entity_id="e",
        trip=TripRef(trip_id=trip, start_date="20190501", schedule_relationship=relationship),
        updates=stops,
    )


def test_one_delay_propagates_to_later_stops_only(metro: Feed, metro_tt: Timetable) -> None:
    stops, arrival, departure = trip_times(metro_tt, f"metro:{TRIP}")
    applied = apply_trip_updates(
        metro_tt, [update(StopTimeUpdate(stop_sequence=13, arrival=StopTimeEvent(delay=300)))], static=metro
    )
    assert (applied.updated, applied.cancelled, applied.unapplied) == (1, 0, {})
    new_stops, new_arrival, new_departure = trip_times(applied.timetable, f"metro:{TRIP}")
    assert new_stops == stops
    # stop_sequence 13 is the 13th stop (index 12): earlier stops keep the schedule, later ones +300 s
    assert (new_arrival[:12] == arrival[:12]).all()
    assert (new_departure[:12] == departure[:12]).all()
    assert (new_arrival[12:] == arrival[12:] + 300).all()
    assert (new_departure[12:] == departure[12:] + 300).all()
    assert (np.diff(applied.timetable.search_key) >= 0).all()
    assert applied.timetable.trips == metro_tt.trips


def test_absolute_times_no_data_and_skipped_stops(metro: Feed, metro_tt: Timetable) -> None:
    stops, arrival, _departure = trip_times(metro_tt, f"metro:{TRIP}")
    origin = Schedule(metro).day_origin(DAY)
    plain = [s.removeprefix("metro:") for s in stops]
    applied = apply_trip_updates(
        metro_tt,
        [
            update(
                # by stop_id: 30 s early at the 3rd stop, absolute time (POSIX)
                StopTimeUpdate(stop_id=plain[2], arrival=StopTimeEvent(time=origin + int(arrival[2]) - 30)),
                StopTimeUpdate(stop_id=plain[5], schedule_relationship="SKIPPED"),
                StopTimeUpdate(stop_id=plain[8], schedule_relationship="NO_DATA"),
                StopTimeUpdate(stop_id=plain[20], departure=StopTimeEvent(delay=600)),
            )
        ],
        static=metro,
    )
    new_stops, new_arrival, new_departure = trip_times(applied.timetable, f"metro:{TRIP}")
    assert new_stops == stops[:5] + stops[6:]  # the skipped stop is no longer served
    kept = [i for i in range(len(stops)) if i != 5]
    want = arrival.copy()
    want[2:8] -= 30  # early from the 3rd stop on, through the skipped one, up to NO_DATA
    want[20:] += 600  # the departure's delay is also the arrival's
    assert new_arrival.tolist() == want[kept].tolist()
    assert (new_departure >= new_arrival).all()
    assert (new_arrival[1:] >= new_departure[:-1]).all()


def test_cancelled_and_unmatched_updates(metro: Feed, metro_tt: Timetable) -> None:
    applied = apply_trip_updates(
        metro_tt,
        [
            update(relationship="CANCELED"),
            update(trip="nope"),
            update(
                StopTimeUpdate(stop_id="not-on-trip", arrival=StopTimeEvent(delay=60)),
                trip="14497268-MAR19-MVS-BUS-Weekday-01",
            ),
            update(trip="14497203-MAR19-MVS-BUS-Weekday-01", relationship="ADDED"),
        ],
        static=metro,
    )
    assert (applied.updated, applied.cancelled) == (0, 1)
    assert applied.unapplied == {"unknown_trip_id": 1, "no_stop_matched": 1, "unsupported_added": 1}
    assert applied.stop_updates_unmatched == 1
    assert f"metro:{TRIP}" not in set(applied.timetable.trip_ids)
    assert applied.timetable.trips == metro_tt.trips - 1


def test_raptor_plans_on_realtime_times(metro: Feed, metro_tt: Timetable) -> None:
    stops, arrival, departure = trip_times(metro_tt, f"metro:{TRIP}")
    index = metro_tt.stop_index()
    origin, target = index[stops[0]], index[stops[-1]]
    leave = int(departure[0])
    scheduled = earliest_arrival(metro_tt, {origin: leave}, {target: 0})[-1]
    assert scheduled.arrival == arrival[-1]
    late = apply_trip_updates(
        metro_tt, [update(StopTimeUpdate(stop_sequence=2, arrival=StopTimeEvent(delay=900)))], static=metro
    ).timetable
    journeys = earliest_arrival(late, {origin: leave}, {target: 0})
    assert journeys
    realtime = journeys[-1]
    assert realtime.arrival > scheduled.arrival
    assert realtime.arrival <= arrival[-1] + 900  # the late trip itself, or a later one that is earlier
    assert_feasible(late, realtime, origin, target, leave)


def test_raptor_on_a_delayed_nyc_subway_equals_connection_scan(
    nyc_subway: Feed, nyc_timetable: Timetable
) -> None:
    """300 trips delayed at a random stop (up to 20 min, some early), 20 cancelled; 300 random queries."""
    rng = random.Random(7)
    today = [n for n, t in enumerate(nyc_timetable.trip_ids) if "@" not in str(t)]
    updates: list[TripUpdate] = []
    for n in rng.sample(today, 320):
        trip_id = str(nyc_timetable.trip_ids[n]).removeprefix("subway:")
        stops, _, _ = trip_times(nyc_timetable, f"subway:{trip_id}")
        ref = TripRef(trip_id=trip_id, start_date="20261007")
        if len(updates) < 20:
            updates.append(
                TripUpdate(
                    entity_id=trip_id,
                    trip=TripRef(trip_id=trip_id, start_date="20261007", schedule_relationship="CANCELED"),
                )
            )
            continue
        stop = rng.choice(stops).removeprefix("subway:")
        delay = rng.randrange(-120, 1200)
        updates.append(
            TripUpdate(
                entity_id=trip_id,
                trip=ref,
                updates=(StopTimeUpdate(stop_id=stop, arrival=StopTimeEvent(delay=delay)),),
            )
        )
    applied = apply_trip_updates(nyc_timetable, updates, static=nyc_subway)
    assert (applied.updated, applied.cancelled, applied.unapplied) == (300, 20, {})
    tt = applied.timetable
    assert (np.diff(tt.search_key) >= 0).all()
    reference = ConnectionScan(tt)
    served = np.unique(tt.position_stop).tolist()
    for _ in range(300):
        origin, target = rng.sample(served, 2)
        time = rng.randrange(6 * 3600, 22 * 3600)
        want = reference.earliest(origin, target, time)
        journeys = earliest_arrival(tt, {origin: time}, {target: 0}, max_rounds=16)
        got = journeys[-1].arrival if journeys and journeys[-1].arrival < time + HORIZON_S else INF
        assert got == want
        for journey in journeys:
            assert_feasible(tt, journey, origin, target, time)
