"""RAPTOR against an independent reference: a connection scan (CSA) over the same day's connections and
footpaths, on 1,000 seeded random queries on each of two real feeds; and every itinerary it returns is
feasible."""

from __future__ import annotations

import bisect
import itertools
import random

import numpy as np
import pytest

from dthub.domains.transit.raptor import INF, Journey, earliest_arrival, range_query
from dthub.domains.transit.timetable import Timetable

QUERIES_PER_FEED = 1_000
ROUNDS = 16
HORIZON_S = 3 * 3600
"""Queries compare arrivals within 3 hours of departure (the reference stops scanning there)."""


class ConnectionScan:
    """The reference: every (trip, stop i → stop i+1) connection of the day, sorted by departure; one
    footpath hop after each arrival by vehicle, as in the planner."""

    def __init__(self, tt: Timetable) -> None:
        rows: list[tuple[int, int, int, int, int, int]] = []
        for pattern in range(tt.patterns):
            positions = range(int(tt.pattern_start[pattern]), int(tt.pattern_start[pattern + 1]))
            first_trip = int(tt.pattern_trip_start[pattern])
            for n in range(tt.pattern_trips(pattern)):
                for a, b in itertools.pairwise(positions):
                    departure, arrival = tt.times(a, n)[1], tt.times(b, n)[0]
                    trip = first_trip + n
                    rows.append(
                        (departure, arrival, trip, a, int(tt.position_stop[a]), int(tt.position_stop[b]))
                    )
        rows.sort()  # by departure, arrival, then trip and position: a trip's zero-minute hops in order
        self.rows = rows
        self.departures = [row[0] for row in rows]
        self.footpaths = [
            list(
                zip(
                    tt.footpath_to[tt.footpath_start[s] : tt.footpath_start[s + 1]].tolist(),
                    tt.footpath_s[tt.footpath_start[s] : tt.footpath_start[s + 1]].tolist(),
                    strict=True,
                )
            )
            for s in range(tt.stops)
        ]
        self.trips, self.stops = tt.trips, tt.stops

    def earliest(self, source: int, target: int, time: int) -> int:
        """Earliest arrival at target within HORIZON_S of `time`; INF if none."""
        horizon = time + HORIZON_S
        reached = [INF] * self.stops
        by_ride = [INF] * self.stops
        boarded = [False] * self.trips
        reached[source] = by_ride[source] = time
        for other, walk in self.footpaths[source]:
            reached[other] = min(reached[other], time + walk)
        start = bisect.bisect_left(self.departures, time)
        rows = self.rows
        for n in range(start, len(rows)):
            departure, arrival, trip, _, origin, destination = rows[n]
            if departure >= min(reached[target], horizon):
                break
            if boarded[trip] or reached[origin] <= departure:
                boarded[trip] = True
                if arrival < by_ride[destination]:
                    by_ride[destination] = arrival
                    reached[destination] = min(reached[destination], arrival)
                    for other, walk in self.footpaths[destination]:
                        reached[other] = min(reached[other], arrival + walk)
        return reached[target] if reached[target] < horizon else INF


def assert_feasible(tt: Timetable, journey: Journey, origin: int, target: int, time: int) -> None:
    """Real trips of the day, boarding at or after arrival at the stop, walks no shorter than the footpath."""
    here, clock = origin, time
    for leg in journey.legs:
        assert leg.from_stop == here
        if leg.kind == "walk":
            paths = range(int(tt.footpath_start[here]), int(tt.footpath_start[here + 1]))
            need = min(int(tt.footpath_s[p]) for p in paths if tt.footpath_to[p] == leg.to_stop)
            assert leg.departure >= clock
            assert leg.arrival - leg.departure >= need
        else:
            pattern = int(tt.position_pattern[leg.board_position])
            assert pattern == int(tt.position_pattern[leg.alight_position])
            assert leg.board_position < leg.alight_position
            n = leg.trip - int(tt.pattern_trip_start[pattern])
            assert 0 <= n < tt.pattern_trips(pattern)
            assert tt.times(leg.board_position, n)[1] == leg.departure >= clock
            assert tt.times(leg.alight_position, n)[0] == leg.arrival
            assert tt.position_stop[leg.alight_position] == leg.to_stop
        here, clock = leg.to_stop, leg.arrival
    assert here == target
    assert clock == journey.arrival


def check_random_queries(tt: Timetable, seed: int) -> int:
    reference = ConnectionScan(tt)
    served = np.unique(tt.position_stop).tolist()
    rng = random.Random(seed)
    reachable = 0
    for _ in range(QUERIES_PER_FEED):
        origin, target = rng.sample(served, 2)
        time = rng.randrange(5 * 3600, 23 * 3600)
        want = reference.earliest(origin, target, time)
        journeys = earliest_arrival(tt, {origin: time}, {target: 0}, max_rounds=ROUNDS)
        got = journeys[-1].arrival if journeys and journeys[-1].arrival < time + HORIZON_S else INF
        assert got == want, (tt.stop_ids[origin], tt.stop_ids[target], time)
        for journey in journeys:
            assert_feasible(tt, journey, origin, target, time)
        reachable += want < INF
    return reachable


def test_earliest_arrival_equals_connection_scan_on_cairns(cairns_timetable: Timetable) -> None:
    assert check_random_queries(cairns_timetable, seed=9) > QUERIES_PER_FEED // 2


def test_earliest_arrival_equals_connection_scan_on_nyc_subway(nyc_timetable: Timetable) -> None:
    assert check_random_queries(nyc_timetable, seed=2026) > QUERIES_PER_FEED * 0.8


def test_pareto_set_trades_arrival_for_rides(nyc_timetable: Timetable) -> None:
    stops = nyc_timetable.stop_index()
    journeys = earliest_arrival(nyc_timetable, {stops["subway:101S"]: 8 * 3600}, {stops["subway:R45N"]: 0})
    assert journeys
    assert [j.rides for j in journeys] == sorted({j.rides for j in journeys})
    assert [j.arrival for j in journeys] == sorted((j.arrival for j in journeys), reverse=True)


@pytest.mark.parametrize("window_s", [3600])
def test_range_query_journeys_leave_within_the_window(nyc_timetable: Timetable, window_s: int) -> None:
    stops = nyc_timetable.stop_index()
    origin, target = stops["subway:101S"], stops["subway:142S"]
    journeys = range_query(nyc_timetable, {origin: 0}, {target: 0}, start=8 * 3600, end=8 * 3600 + window_s)
    assert len(journeys) > 3
    for journey in journeys:
        assert 8 * 3600 <= journey.departure <= 8 * 3600 + window_s
        assert_feasible(nyc_timetable, journey, origin, target, journey.departure)
