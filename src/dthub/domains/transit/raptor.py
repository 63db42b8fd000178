"""RAPTOR (Delling, Pajor, Werneck 2012): round-based public transit routing over a `Timetable`.

Round k finds the earliest arrival at every stop with at most k rides, as in the paper:
- each pattern (routes split so that no trip overtakes another) that serves a stop marked (improved) in
  round k - 1 is ridden from its first marked stop on, on the earliest trip caught so far; a binary search
  over the departures of a position finds the first trip leaving at or after the rider is there;
- boarding is tried only at marked stops, and only when the rider is there before the best arrival at the
  destination (egress included) known in this round; alighting only improves a stop before that arrival
  (target pruning);
- then one footpath hop from the stops reached by a ride.

The loops of a round are compiled with numba (`_scan_patterns`, `_walk_footpaths`, `_carry_labels`); the
rest is Python. Labels are kept per round, so the rounds give the Pareto set of arrival time x rides, and
a range query (rRAPTOR) runs departures latest first, keeping the labels between runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

from dthub.domains.transit.timetable import Timetable

INF = np.iinfo(np.int32).max // 2
"""An unreached stop's time."""

NONE, RIDE, WALK, ORIGIN = 0, 1, 2, 3
"""How a label was reached: carried from the round before, a ride, a footpath, the origin."""

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
F = TypeVar("F", bound=Callable[..., Any])


def compiled(function: F) -> F:
    """`numba.njit`, cached on disk: the inner loops of a round, compiled once per machine."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


@dataclass(frozen=True, kw_only=True)
class Leg:
    """One ride or walk of a journey; stops are indices of the timetable."""

    kind: Literal["ride", "walk"]
    from_stop: int
    to_stop: int
    departure: int
    arrival: int
    trip: int = -1
    """Index in `Timetable.trip_ids`; -1 for a walk."""
    board_position: int = -1
    alight_position: int = -1


@dataclass(frozen=True, kw_only=True)
class Journey:
    """Legs from the origin to the destination stop; `arrival` includes the egress walk."""

    departure: int
    arrival: int
    rides: int
    legs: tuple[Leg, ...]

    @property
    def transfers(self) -> int:
        return max(self.rides - 1, 0)


@dataclass
class Labels:
    """Per-round labels of a search: `any` to board from, `ride` (arrival by vehicle) to walk from."""

    any: I64
    ride: I64
    any_kind: npt.NDArray[np.int8]
    ride_kind: npt.NDArray[np.int8]
    walk_from: I64
    ride_board: I64
    ride_trip: I64
    ride_alight: I64
    destination: I64 = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def empty(cls, rounds: int, stops: int) -> Labels:
        shape = (rounds + 1, stops)
        return cls(
            any=np.full(shape, INF, np.int64),
            ride=np.full(shape, INF, np.int64),
            any_kind=np.zeros(shape, np.int8),
            ride_kind=np.zeros(shape, np.int8),
            walk_from=np.full(shape, -1, np.int64),
            ride_board=np.full(shape, -1, np.int64),
            ride_trip=np.full(shape, -1, np.int64),
            ride_alight=np.full(shape, -1, np.int64),
            destination=np.full(rounds + 1, INF, np.int64),
        )


def search(
    tt: Timetable,
    sources: Mapping[int, int],
    targets: Mapping[int, int],
    *,
    max_rounds: int = 8,
    labels: Labels | None = None,
) -> Labels:
    """Run RAPTOR from `sources` (stop → time the rider is there) towards `targets` (stop → egress
    seconds); `labels` of a later departure may be passed to continue from them (rRAPTOR)."""
    lab = labels if labels is not None else Labels.empty(max_rounds, tt.stops)
    target_stops = np.fromiter(targets.keys(), np.int64, len(targets))
    egress = np.fromiter(targets.values(), np.int64, len(targets))
    improved = np.zeros(tt.stops, bool)
    for stop, time in sources.items():
        if time < lab.any[0, stop]:
            lab.any[0, stop] = time
            lab.any_kind[0, stop] = ORIGIN
            improved[stop] = True
        if time < lab.ride[0, stop]:
            lab.ride[0, stop] = time
            lab.ride_kind[0, stop] = ORIGIN
    ride_improved = np.fromiter(sources.keys(), np.int64, len(sources))
    _walk(tt, lab, 0, ride_improved, improved)
    lab.destination[0] = min(lab.destination[0], _destination(lab, 0, target_stops, egress))
    marked = np.flatnonzero(improved)
    for k in range(1, max_rounds + 1):
        _carry(lab, k)
        if len(marked) == 0:
            continue
        improved = np.zeros(tt.stops, bool)
        ride_improved = _scan(tt, lab, k, marked, improved)
        _walk(tt, lab, k, ride_improved, improved)
        lab.destination[k] = min(lab.destination[k], _destination(lab, k, target_stops, egress))
        marked = np.flatnonzero(improved)
    return lab


def _carry(lab: Labels, k: int) -> None:
    """Round k starts from what k - 1 rides reach."""
    _carry_labels(lab.any[k - 1], lab.any[k], lab.any_kind[k])
    _carry_labels(lab.ride[k - 1], lab.ride[k], lab.ride_kind[k])
    lab.destination[k] = min(lab.destination[k], lab.destination[k - 1])


@compiled
def _carry_labels(before: I64, labels: I64, kinds: I8) -> None:
    for stop in range(len(labels)):
        if before[stop] < labels[stop]:
            labels[stop] = before[stop]
            kinds[stop] = NONE


def _destination(lab: Labels, k: int, stops: I64, egress: I64) -> int:
    if len(stops) == 0:
        return INF
    return int(np.min(lab.any[k, stops] + egress))


def _scan(tt: Timetable, lab: Labels, k: int, marked: I64, improved: npt.NDArray[np.bool_]) -> I64:
    """Round k: ride the patterns through the stops marked in round k - 1 (`_scan_patterns`)."""
    stops = _scan_patterns(
        tt.pattern_start,
        tt.position_stop,
        tt.position_pattern,
        tt.column_start,
        tt.arrival,
        tt.departure,
        tt.pattern_trip_start,
        tt.stop_position_start,
        tt.stop_positions,
        marked,
        lab.any[k - 1],
        lab.any[k],
        lab.any_kind[k],
        lab.ride[k],
        lab.ride_kind[k],
        lab.ride_board[k],
        lab.ride_trip[k],
        lab.ride_alight[k],
        improved,
        int(lab.destination[k]),
    )
    return stops


@compiled
def _scan_patterns(
    pattern_start: I64,
    position_stop: I32,
    position_pattern: I32,
    column_start: I64,
    arrival: I32,
    departure: I32,
    pattern_trip_start: I64,
    stop_position_start: I64,
    stop_positions: I64,
    marked: I64,
    ready: I64,
    any_k: I64,
    any_kind: I8,
    ride_k: I64,
    ride_kind: I8,
    ride_board: I64,
    ride_trip: I64,
    ride_alight: I64,
    improved: npt.NDArray[np.bool_],
    bound: int,
) -> I64:
    """Each pattern serving a marked stop, from its first marked position on. Along the pattern the rider
    stays on the earliest trip caught so far: at each position, first alight (improving the stop's ride
    label, and its label if better), then board an earlier trip (or the same one, later: less riding)
    if the stop is marked, reached (in round k - 1) before `bound`, the best arrival at the destination
    (target pruning). A stop not marked was boarded from in an earlier round. Returns the stops whose
    ride label improved, for the footpaths."""
    patterns = len(pattern_start) - 1
    first = np.full(patterns, -1, np.int64)
    is_marked = np.zeros(len(ready), np.bool_)
    touched = []
    for stop in marked:
        if ready[stop] >= bound:
            continue
        is_marked[stop] = True
        for n in range(stop_position_start[stop], stop_position_start[stop + 1]):
            g = stop_positions[n]
            pattern = position_pattern[g]
            if first[pattern] < 0:
                touched.append(pattern)
                first[pattern] = g
            elif g < first[pattern]:
                first[pattern] = g
    ride_improved = np.zeros(len(ready), np.bool_)
    for pattern in sorted(touched):
        trips = pattern_trip_start[pattern + 1] - pattern_trip_start[pattern]
        trip, board = -1, -1
        for g in range(first[pattern], pattern_start[pattern + 1]):
            stop = position_stop[g]
            if trip >= 0:
                at = arrival[column_start[g] + trip]
                if at < ride_k[stop] and at < bound:
                    ride_k[stop] = at
                    ride_kind[stop] = RIDE
                    ride_board[stop] = board
                    ride_trip[stop] = pattern_trip_start[pattern] + trip
                    ride_alight[stop] = g
                    ride_improved[stop] = True
                    if at < any_k[stop]:
                        any_k[stop] = at
                        any_kind[stop] = RIDE
                        improved[stop] = True
            if is_marked[stop]:
                low, high = 0, trips if trip < 0 else trip + 1
                while low < high:  # the first trip leaving at or after the rider is there
                    middle = (low + high) // 2
                    if departure[column_start[g] + middle] < ready[stop]:
                        low = middle + 1
                    else:
                        high = middle
                if low < trips and (trip < 0 or low <= trip):
                    trip, board = low, g
    return np.flatnonzero(ride_improved)


def _walk(tt: Timetable, lab: Labels, k: int, origins: I64, improved: npt.NDArray[np.bool_]) -> None:
    _walk_footpaths(
        tt.footpath_start,
        tt.footpath_to,
        tt.footpath_s,
        origins,
        lab.ride[k],
        lab.any[k],
        lab.any_kind[k],
        lab.walk_from[k],
        improved,
        int(lab.destination[k]),
    )


@compiled
def _walk_footpaths(
    footpath_start: I64,
    footpath_to: I32,
    footpath_s: I32,
    origins: I64,
    ride_k: I64,
    any_k: I64,
    any_kind: I8,
    walk_from: I64,
    improved: npt.NDArray[np.bool_],
    bound: int,
) -> None:
    """One footpath from each stop reached by a ride, where it arrives earlier, before `bound`."""
    for origin in origins:
        for edge in range(footpath_start[origin], footpath_start[origin + 1]):
            target = footpath_to[edge]
            time = ride_k[origin] + footpath_s[edge]
            if time < any_k[target] and time < bound:
                any_k[target] = time
                any_kind[target] = WALK
                walk_from[target] = origin
                improved[target] = True


def journey(tt: Timetable, lab: Labels, k: int, stop: int, egress_s: int = 0) -> Journey:
    """The journey with at most k rides that reaches `stop` at `lab.any[k, stop]`."""
    legs: list[Leg] = []
    arrival = int(lab.any[k, stop]) + egress_s
    on_ride_chain = False
    while True:
        if not on_ride_chain:
            kind = lab.any_kind[k, stop]
            if kind == NONE:
                k -= 1
                continue
            if kind == ORIGIN:
                break
            if kind == WALK:
                origin = int(lab.walk_from[k, stop])
                legs.append(
                    Leg(
                        kind="walk",
                        from_stop=origin,
                        to_stop=stop,
                        departure=int(lab.ride[k, origin]),
                        arrival=int(lab.any[k, stop]),
                    )
                )
                stop = origin
            on_ride_chain = True
            continue
        kind = lab.ride_kind[k, stop]
        if kind == NONE:
            k -= 1
            continue
        if kind == ORIGIN:
            break
        board, alight, trip = (
            int(lab.ride_board[k, stop]),
            int(lab.ride_alight[k, stop]),
            int(lab.ride_trip[k, stop]),
        )
        in_pattern = trip - int(tt.pattern_trip_start[tt.position_pattern[board]])
        board_stop = int(tt.position_stop[board])
        legs.append(
            Leg(
                kind="ride",
                from_stop=board_stop,
                to_stop=stop,
                departure=tt.times(board, in_pattern)[1],
                arrival=tt.times(alight, in_pattern)[0],
                trip=trip,
                board_position=board,
                alight_position=alight,
            )
        )
        stop, k, on_ride_chain = board_stop, k - 1, False
    legs.reverse()
    departure = int(lab.any[0, stop]) if not legs else legs[0].departure
    rides = sum(leg.kind == "ride" for leg in legs)
    return Journey(departure=departure, arrival=arrival, rides=rides, legs=tuple(legs))


def pareto(tt: Timetable, lab: Labels, targets: Mapping[int, int]) -> list[Journey]:
    """One journey per number of rides that arrives strictly earlier than with fewer rides."""
    found: list[Journey] = []
    best = INF
    for k in range(lab.any.shape[0]):
        arrivals = [(int(lab.any[k, s]) + e, s, e) for s, e in targets.items() if lab.any[k, s] < INF]
        if not arrivals:
            continue
        arrival, stop, egress = min(arrivals)
        if arrival < best:
            best = arrival
            found.append(journey(tt, lab, k, stop, egress))
    return found


def earliest_arrival(
    tt: Timetable, sources: Mapping[int, int], targets: Mapping[int, int], *, max_rounds: int = 8
) -> list[Journey]:
    """Pareto set (arrival x rides) from sources (stop → time there) to targets (stop → egress s)."""
    return pareto(tt, search(tt, sources, targets, max_rounds=max_rounds), targets)


def range_query(
    tt: Timetable,
    access: Mapping[int, int],
    targets: Mapping[int, int],
    *,
    start: int,
    end: int,
    max_rounds: int = 8,
) -> list[Journey]:
    """rRAPTOR: the Pareto journeys (departure, arrival, rides) leaving within [start, end]; `access` maps
    origin stops to the walk there, seconds. Departures are the trips leaving the origin stops in the
    window, latest first, the labels kept between runs."""
    departures: set[int] = set()
    for stop, walk in access.items():
        positions = tt.stop_positions[tt.stop_position_start[stop] : tt.stop_position_start[stop + 1]]
        for g in positions.tolist():
            times = tt.departure[
                tt.column_start[g] : tt.column_start[g] + tt.pattern_trips(int(tt.position_pattern[g]))
            ]
            departures.update(int(t) - walk for t in times if start <= int(t) - walk <= end)
    lab = Labels.empty(max_rounds, tt.stops)
    found: dict[tuple[int, int], Journey] = {}
    for departure in sorted(departures, reverse=True):
        before = lab.destination.copy()
        search(tt, {s: departure + w for s, w in access.items()}, targets, max_rounds=max_rounds, labels=lab)
        if (lab.destination < before).any():
            for candidate in pareto(tt, lab, targets):
                key = (candidate.arrival, candidate.rides)
                if key not in found or found[key].departure < candidate.departure:
                    found[key] = candidate
    journeys = sorted(found.values(), key=lambda j: (j.departure, j.arrival, j.rides))
    return [
        j
        for j in journeys
        if not any(
            o is not j
            and o.departure >= j.departure
            and o.arrival <= j.arrival
            and o.rides <= j.rides
            and (o.departure, o.arrival, o.rides) != (j.departure, j.arrival, j.rides)
            for o in journeys
        )
    ]
