"""RAPTOR (Delling, Pajor, Werneck 2012): round-based public transit routing over a `Timetable`.

Round k finds the earliest arrival at every stop with at most k rides. Each round is vectorised over
every position (stop of a pattern) of the patterns that serve a stop improved in the round before:
- one `searchsorted` on `Timetable.search_key` finds, at each position, the first trip leaving at or after
  the time the stop was reached with k - 1 rides;
- a segmented cumulative minimum carries, along each pattern, the earliest trip boarded upstream (FIFO
  patterns make the earliest trip the best one), preferring the latest boarding position;
- the arrivals of those trips improve the stops, then one footpath hop from stops reached by a ride.

Labels are kept per round, so the rounds give the Pareto set of arrival time x rides, and a range query
(rRAPTOR) runs departures latest first, keeping the labels between runs. Target pruning uses the best
arrival at the destination (egress included) of the same round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from dthub.domains.transit.timetable import KEY_STRIDE, TIME_OFFSET_S, Timetable

INF = np.iinfo(np.int32).max // 2
"""An unreached stop's time."""
_TIE_BITS = 20
_SEGMENT = np.int64(1) << 42

NONE, RIDE, WALK, ORIGIN = 0, 1, 2, 3
"""How a label was reached: carried from the round before, a ride, a footpath, the origin."""

I64 = npt.NDArray[np.int64]


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


def _ranges(starts: I64, ends: I64) -> I64:
    """Concatenation of `arange(start, end)` for each pair."""
    counts = ends - starts
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    result: I64 = np.repeat(starts, counts) + offsets
    return result


def _first_per_key(keys: I64, values: I64) -> tuple[I64, I64]:
    """Indices of the smallest value of each key, and the keys."""
    order = np.lexsort((values, keys))
    first = np.ones(len(order), bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    chosen = order[first]
    return chosen, keys[chosen]


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
    for labels, kinds in ((lab.any, lab.any_kind), (lab.ride, lab.ride_kind)):
        better = labels[k - 1] < labels[k]
        labels[k, better] = labels[k - 1, better]
        kinds[k, better] = NONE
    lab.destination[k] = min(lab.destination[k], lab.destination[k - 1])


def _destination(lab: Labels, k: int, stops: I64, egress: I64) -> int:
    if len(stops) == 0:
        return INF
    return int(np.min(lab.any[k, stops] + egress))


def _scan(tt: Timetable, lab: Labels, k: int, marked: I64, improved: npt.NDArray[np.bool_]) -> I64:
    positions = tt.stop_positions[_ranges(tt.stop_position_start[marked], tt.stop_position_start[marked + 1])]
    patterns = np.unique(tt.position_pattern[positions])
    starts, ends = tt.pattern_start[patterns], tt.pattern_start[patterns + 1]
    g = _ranges(starts, ends)
    segment = np.repeat(np.arange(len(patterns), dtype=np.int64), ends - starts)
    local = g - np.repeat(starts, ends - starts)
    trips = (tt.pattern_trip_start[patterns + 1] - tt.pattern_trip_start[patterns])[segment]
    ready = lab.any[k - 1, tt.position_stop[g]]
    key = g * KEY_STRIDE + np.minimum(ready, 2 * 86_400) + TIME_OFFSET_S
    earliest = np.searchsorted(tt.search_key, key, side="left") - tt.column_start[g]
    earliest = np.where((ready < INF) & (earliest < trips), earliest, trips)
    tie = (np.int64(1) << _TIE_BITS) - 1 - local
    value = (earliest << _TIE_BITS) + tie + (len(patterns) - segment) * _SEGMENT
    running = np.minimum.accumulate(value)
    before = np.empty_like(running)
    before[0] = INF
    before[1:] = running[:-1]
    first = local == 0
    code = before - (len(patterns) - segment) * _SEGMENT
    trip = code >> _TIE_BITS
    valid = ~first & (trip < trips)
    g, trip, board_local = (
        g[valid],
        trip[valid],
        (np.int64(1) << _TIE_BITS) - 1 - (code[valid] & ((1 << _TIE_BITS) - 1)),
    )
    board = np.repeat(starts, ends - starts)[valid] + board_local
    arrival = tt.arrival[tt.column_start[g] + trip].astype(np.int64)
    stop = tt.position_stop[g].astype(np.int64)
    useful = (arrival < lab.ride[k, stop]) & (arrival < lab.destination[k])
    chosen, stops = _first_per_key(stop[useful], arrival[useful])
    pick = np.flatnonzero(useful)[chosen]
    time = arrival[pick]
    lab.ride[k, stops] = time
    lab.ride_kind[k, stops] = RIDE
    lab.ride_board[k, stops] = board[pick]
    lab.ride_alight[k, stops] = g[pick]
    lab.ride_trip[k, stops] = tt.pattern_trip_start[tt.position_pattern[g[pick]]] + trip[pick]
    better = time < lab.any[k, stops]
    lab.any[k, stops[better]] = time[better]
    lab.any_kind[k, stops[better]] = RIDE
    improved[stops[better]] = True
    return stops


def _walk(tt: Timetable, lab: Labels, k: int, origins: I64, improved: npt.NDArray[np.bool_]) -> None:
    if len(origins) == 0:
        return
    edges = _ranges(tt.footpath_start[origins], tt.footpath_start[origins + 1])
    source = np.repeat(origins, tt.footpath_start[origins + 1] - tt.footpath_start[origins])
    target = tt.footpath_to[edges].astype(np.int64)
    time = lab.ride[k, source] + tt.footpath_s[edges]
    useful = (time < lab.any[k, target]) & (time < lab.destination[k])
    chosen, stops = _first_per_key(target[useful], time[useful])
    pick = np.flatnonzero(useful)[chosen]
    lab.any[k, stops] = time[pick]
    lab.any_kind[k, stops] = WALK
    lab.walk_from[k, stops] = source[pick]
    improved[stops] = True


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
