"""RAPTOR against an independent reference: a connection scan (CSA) over the same day's connections and
footpaths, on 1,000 seeded random queries on each of two real feeds; and every itinerary it returns is
feasible."""

from __future__ import annotations

import random

import numba
import numpy as np
import numpy.typing as npt
import pytest

from dthub.domains.transit.raptor import INF, Journey, earliest_arrival, range_query
from dthub.domains.transit.timetable import Timetable

QUERIES_PER_FEED = 1_000
ROUNDS = 16
HORIZON_S = 3 * 3600
"""Queries compare arrivals within 3 hours of departure (the reference stops scanning there)."""
I64 = npt.NDArray[np.int64]


class ConnectionScan:
    """The reference: every (trip, stop i → stop i+1) connection of the day, sorted by departure; one
    footpath hop after each arrival by vehicle, as in the planner. Connections that leave at the same second
    are scanned again while one of them that takes no time (arrives that second) improves a stop, so that
    zero-minute hops of different trips chain whatever their order. The scan is compiled with numba."""

    def __init__(self, tt: Timetable) -> None:
        last = len(tt.position_stop) - 1
        hop = np.flatnonzero(tt.position_pattern[:last] == tt.position_pattern[1:])  # position → next one
        pattern = tt.position_pattern[hop]
        first_trip = tt.pattern_trip_start[pattern]
        count = tt.pattern_trip_start[pattern + 1] - first_trip
        position = np.repeat(hop, count)
        n = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)  # trip in its pattern
        departure = tt.departure[tt.column_start[position] + n].astype(np.int64)
        arrival = tt.arrival[tt.column_start[position + 1] + n].astype(np.int64)
        trip = np.repeat(first_trip, count) + n
        order = np.lexsort((position, trip, arrival, departure))  # a trip's zero-minute hops in order
        self.departure, self.arrival = departure[order], arrival[order]
        self.trip = trip[order]
        self.origin = tt.position_stop[position[order]].astype(np.int64)
        self.destination = tt.position_stop[position[order] + 1].astype(np.int64)
        self.footpath_start = tt.footpath_start.astype(np.int64)
        self.footpath_to = tt.footpath_to.astype(np.int64)
        self.footpath_s = tt.footpath_s.astype(np.int64)
        self.trips, self.stops = tt.trips, tt.stops

    def earliest(self, source: int, target: int, time: int) -> int:
        """Earliest arrival at target within HORIZON_S of `time`; INF if none."""
        return int(
            _scan_connections(
                self.departure,
                self.arrival,
                self.trip,
                self.origin,
                self.destination,
                self.footpath_start,
                self.footpath_to,
                self.footpath_s,
                self.trips,
                source,
                target,
                time,
                time + HORIZON_S,
            )
        )


@numba.njit(cache=True)
def _scan_connections(
    departure: I64,
    arrival: I64,
    trip: I64,
    origin: I64,
    destination: I64,
    footpath_start: I64,
    footpath_to: I64,
    footpath_s: I64,
    trips: int,
    source: int,
    target: int,
    time: int,
    horizon: int,
) -> int:
    stops = len(footpath_start) - 1
    reached = np.full(stops, INF, np.int64)
    by_ride = np.full(stops, INF, np.int64)
    boarded = np.zeros(trips, np.bool_)
    reached[source] = by_ride[source] = time
    for edge in range(footpath_start[source], footpath_start[source + 1]):
        other = footpath_to[edge]
        reached[other] = min(reached[other], time + footpath_s[edge])
    start = np.searchsorted(departure, time)
    while start < len(departure) and departure[start] < min(reached[target], horizon):
        end = start
        while end < len(departure) and departure[end] == departure[start]:
            end += 1
        again = True
        while again:  # once more while a connection that takes no time improved a stop
            again = False
            for c in range(start, end):
                if not boarded[trip[c]] and reached[origin[c]] > departure[c]:
                    continue
                boarded[trip[c]] = True
                stop, at = destination[c], arrival[c]
                if at < by_ride[stop]:
                    by_ride[stop] = at
                    again |= at == departure[c] and at < reached[stop]
                    reached[stop] = min(reached[stop], at)
                    for edge in range(footpath_start[stop], footpath_start[stop + 1]):
                        other, walked = footpath_to[edge], at + footpath_s[edge]
                        if walked < reached[other]:
                            reached[other] = walked
                            again |= walked == departure[c]
        start = end
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


def check_random_queries(
    tt: Timetable,
    seed: int,
    *,
    leave: tuple[int, int] = (5 * 3600, 23 * 3600),
    queries: int = QUERIES_PER_FEED,
) -> list[Journey | None]:
    """`queries` seeded random (origin stop, destination stop, departure within `leave`) among the stops
    served that day: RAPTOR's earliest arrival equals the connection scan's, every Pareto journey is
    feasible. Returns the earliest journey of each query within the horizon, None where there is none."""
    reference = ConnectionScan(tt)
    served = np.unique(tt.position_stop).tolist()
    rng = random.Random(seed)
    earliest: list[Journey | None] = []
    for _ in range(queries):
        origin, target = rng.sample(served, 2)
        time = rng.randrange(*leave)
        want = reference.earliest(origin, target, time)
        journeys = earliest_arrival(tt, {origin: time}, {target: 0}, max_rounds=ROUNDS)
        got = journeys[-1].arrival if journeys and journeys[-1].arrival < time + HORIZON_S else INF
        assert got == want, (tt.stop_ids[origin], tt.stop_ids[target], time)
        for journey in journeys:
            assert_feasible(tt, journey, origin, target, time)
        earliest.append(journeys[-1] if want < INF else None)
    return earliest


def test_earliest_arrival_equals_connection_scan_on_cairns(cairns_timetable: Timetable) -> None:
    journeys = check_random_queries(cairns_timetable, seed=9)
    assert sum(j is not None for j in journeys) > QUERIES_PER_FEED // 2


def test_earliest_arrival_equals_connection_scan_on_nyc_subway(nyc_timetable: Timetable) -> None:
    journeys = check_random_queries(nyc_timetable, seed=2026)
    assert sum(j is not None for j in journeys) > QUERIES_PER_FEED * 0.8


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
