"""Bus operations analytics from vehicle positions (AVL, 车辆自动定位): when each vehicle passed each stop,
headway regularity (车距均衡性), on-time performance (准点率), and transfer connections at interchange
stops (换乘衔接).

Engine: pure numpy on loaded arrays, after a governed read. The read (positions of one day, one source)
runs on the hub's engine through `hub.access` and is pushed down to the lake (Ibis); the analytics then
work trace by trace (a vehicle on a trip): projecting stops on the polyline of its fixes, matching the
trace to a scheduled stop pattern, and assigning it a scheduled trip. That is sequential geometry per
trace, awkward in SQL and cheap in numpy: a city day of a few million fixes is a few hundred MB of arrays.

Steps:
- `passages`: a trace's fixes (about every 2 min) form a polyline; a stop within `near_m` of it was passed
  at the time interpolated at the closest point. The trace matches the stop pattern (scheduled stop
  sequence) with the most stops passed in order (then the largest share of its stops);
- `on_time`: each matched trace takes the scheduled trip of its pattern closest to it (median deviation
  over its passages, each scheduled trip used once, at most `max_match_s` away); a passage is early,
  on time or late by the windows (default 1 min early to 5 min late);
- `headways`: per route and stop, the observed headways' mean, coefficient of variation, the average wait
  of a rider arriving at random (sum h² / 2 sum h), and the excess over the scheduled wait when a schedule
  is given (EWT), else over evenly spaced service at the observed frequency;
- `bike_connections`: arrivals at stops with a bike-share station within walking distance, and the share
  that found a bike there (GBFS station_status at that moment);
- `transfers`: at interchange stops (stops of different routes within `walk_m`), each scheduled
  connection (an arrival, then the first departure of another route at least `min_transfer_s` + the walk
  later and at most `max_wait_s`) whose two trips were observed is made when the observed departure is no
  earlier than the observed arrival plus the walk. Modes: routes in `rail_routes` are RAIL, others BUS.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypedDict
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dthub.domains.transit.gbfs import Station, StatusSnapshot, network_at
from dthub.domains.transit.geo import EARTH_RADIUS_M, distance_m, nearby_pairs
from dthub.domains.transit.gtfs import read_table, seconds

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Strs = npt.NDArray[np.object_]


@dataclass(frozen=True)
class StopTable:
    ids: Strs
    lat: F64
    lon: F64

    def index(self) -> dict[str, int]:
        return {str(s): n for n, s in enumerate(self.ids)}


@dataclass(frozen=True)
class Schedule:
    """Scheduled trips as stop patterns: trip t runs pattern `trip_pattern[t]`, its times (seconds of the
    service day) at the pattern's stops are `times[trip_start[t]:trip_start[t + 1]]`."""

    trip_ids: Strs
    trip_pattern: I64
    trip_start: I64
    times: I64
    patterns: tuple[I64, ...]
    """Stop indices (into the `StopTable`) of each pattern, in order."""

    def trip_times(self, trip: int) -> I64:
        return self.times[self.trip_start[trip] : self.trip_start[trip + 1]]


@dataclass(frozen=True)
class Positions:
    """Fixes of one day: POSIX seconds, WGS-84."""

    vehicle: Strs
    trip: Strs
    route: Strs
    time: I64
    lat: F64
    lon: F64


def positions_from_table(rows: pa.Table) -> Positions:
    """`transit.vehicle_positions` rows (as read through the hub) → arrays; fixes without a position or
    trip are left out."""
    keep = pc.and_(
        pc.and_(pc.is_valid(rows["lat"]), pc.is_valid(rows["lon"])),
        pc.and_(pc.is_valid(rows["trip_id"]), pc.is_valid(rows["vehicle_id"])),
    )
    rows = rows.filter(keep)
    stamps = pc.cast(rows["observed_at"], pa.timestamp("s", tz="UTC"))
    return Positions(
        vehicle=np.asarray(rows["vehicle_id"].to_pylist(), dtype=object),
        trip=np.asarray(rows["trip_id"].to_pylist(), dtype=object),
        route=np.asarray(pc.fill_null(rows["route_id"], "").to_pylist(), dtype=object),
        time=np.asarray(pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64),
        lat=np.asarray(rows["lat"].to_numpy(zero_copy_only=False), dtype=np.float64),
        lon=np.asarray(rows["lon"].to_numpy(zero_copy_only=False), dtype=np.float64),
    )


def _csv(data: bytes) -> pa.Table:
    """A CSV (gzip accepted) with every column as trimmed text."""
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return read_table(raw)


def read_stops(data: bytes) -> StopTable:
    """`stop_id,stop_name,stop_lat,stop_lon` (GTFS stops.txt columns; gzip accepted)."""
    table = _csv(data)
    return StopTable(
        ids=np.asarray(table["stop_id"].to_pylist(), dtype=object),
        lat=np.asarray(pc.cast(table["stop_lat"], pa.float64()).to_numpy(zero_copy_only=False)),
        lon=np.asarray(pc.cast(table["stop_lon"], pa.float64()).to_numpy(zero_copy_only=False)),
    )


def read_schedule(data: bytes, stops: StopTable) -> Schedule:
    """`trip_id,arrival_time,stop_id,...` rows (CapMetrics' schedule extract; GTFS stop_times without
    stop_sequence: a trip's stops are in time order, ties in file order). Stops not in `stops` are
    left out."""
    index = stops.index()
    table = _csv(data)
    arrival = seconds(table["arrival_time"]).tolist()
    by_trip: dict[str, list[tuple[int, int, int]]] = {}
    rows = zip(table["trip_id"].to_pylist(), table["stop_id"].to_pylist(), arrival, strict=True)
    for n, (trip, stop_id, time) in enumerate(rows):
        stop = index.get(stop_id)
        if stop is not None and time >= 0:
            by_trip.setdefault(trip, []).append((time, n, stop))
    pattern_of: dict[tuple[int, ...], int] = {}
    trip_ids: list[str] = []
    trip_pattern: list[int] = []
    lengths: list[int] = []
    times: list[int] = []
    for trip, visits in by_trip.items():
        if len(visits) < 2:
            continue
        visits.sort()
        sequence = tuple(stop for _, _, stop in visits)
        trip_ids.append(trip)
        trip_pattern.append(pattern_of.setdefault(sequence, len(pattern_of)))
        lengths.append(len(visits))
        times.extend(time for time, _, _ in visits)
    return Schedule(
        trip_ids=np.asarray(trip_ids, dtype=object),
        trip_pattern=np.asarray(trip_pattern, dtype=np.int64),
        trip_start=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        times=np.asarray(times, dtype=np.int64),
        patterns=tuple(np.asarray(p, dtype=np.int64) for p in pattern_of),
    )


def day_origin(day: date, timezone: str) -> int:
    """POSIX seconds of 00:00 of GTFS service day `day`: noon local time minus 12 h."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(timezone))
    return int(noon.timestamp()) - 12 * 3600


# --- passages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """One vehicle on one trip: its fixes, the pattern it matched (-1: none), and the passages."""

    vehicle: str
    trip: str
    route: str
    pattern: int
    stops: I64
    """Positions in the pattern (0-based) of the stops passed."""
    times: I64
    """Service-day seconds of each passage."""


@dataclass(frozen=True)
class Passages:
    traces: tuple[Trace, ...]
    unmatched: dict[str, int]
    """Traces without passages, by reason: `too_few_fixes`, `no_pattern`."""


def _metres(lat: F64, lon: F64, lat0: float) -> tuple[F64, F64]:
    scale = np.pi / 180 * EARTH_RADIUS_M
    return lon * scale * np.cos(np.radians(lat0)), lat * scale


def _segments(x: F64, y: F64, t: F64, sx: F64, sy: F64) -> tuple[F64, F64]:
    """Distance of each stop (rows) to each segment of the polyline (x, y) (columns), and the time
    interpolated at the closest point of the segment."""
    ax, ay, bx, by = x[:-1], y[:-1], x[1:], y[1:]
    dx, dy = bx - ax, by - ay
    length2 = np.maximum(dx * dx + dy * dy, 1e-9)
    u = np.clip(((sx[:, None] - ax) * dx + (sy[:, None] - ay) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(sx[:, None] - (ax + u * dx), sy[:, None] - (ay + u * dy))
    return dist, t[:-1] + u * (t[1:] - t[:-1])


def _project(x: F64, y: F64, t: F64, sx: F64, sy: F64) -> tuple[F64, F64]:
    """Distance of each stop to the polyline and the time at its closest point."""
    dist, when = _segments(x, y, t, sx, sy)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(sx))
    return dist[rows, best], when[rows, best]


def _ordered(x: F64, y: F64, t: F64, sx: F64, sy: F64, near_m: float) -> F64:
    """Passage time at each stop of a pattern (in order), nan where not passed: the first stretch of
    segments within `near_m` at or after the previous stop's, its closest point. A trace that passes a
    stop twice (out and back on one street) is timed on the pass that keeps the pattern's order."""
    dist, when = _segments(x, y, t, sx, sy)
    times = np.full(len(sx), np.nan)
    cursor = 0
    for n in range(len(sx)):
        near = np.flatnonzero(dist[n, cursor:] <= near_m) + cursor
        if len(near) == 0:
            continue
        run = near[: int(np.argmax(np.diff(np.append(near, near[-1] + 2)) > 1)) + 1]
        best = int(run[np.argmin(dist[n, run])])
        times[n] = when[n, best]
        cursor = best
    return times


def passages(
    fixes: Positions,
    stops: StopTable,
    schedule: Schedule,
    *,
    origin: int,
    near_m: float = 60.0,
    min_hits: int = 3,
) -> Passages:
    """Stop passages of every trace, at the stops of the pattern it matches (see the module docstring);
    `origin` is the POSIX time of the service day's 00:00."""
    order = np.lexsort((fixes.time, fixes.trip, fixes.vehicle))
    key = np.asarray([f"{v}\x00{t}" for v, t in zip(fixes.vehicle[order], fixes.trip[order], strict=True)])
    bounds = np.flatnonzero(key[1:] != key[:-1]) + 1 if len(key) else np.zeros(0, np.int64)
    starts = np.concatenate(([0], bounds)) if len(key) else np.zeros(0, np.int64)
    ends = np.concatenate((bounds, [len(key)])) if len(key) else np.zeros(0, np.int64)
    lat0 = float(np.mean(stops.lat)) if len(stops.lat) else 0.0
    sx, sy = _metres(stops.lat, stops.lon, lat0)
    entry_pattern = np.concatenate([np.full(len(p), n) for n, p in enumerate(schedule.patterns)])
    entry_stop = np.concatenate(schedule.patterns) if schedule.patterns else np.zeros(0, np.int64)
    lengths = np.asarray([len(p) for p in schedule.patterns])
    traces: list[Trace] = []
    unmatched: Counter[str] = Counter()
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[a:b]
        if b - a < 2:
            unmatched["too_few_fixes"] += 1
            continue
        x, y = _metres(fixes.lat[rows], fixes.lon[rows], lat0)
        box = (
            (sx >= x.min() - near_m)
            & (sx <= x.max() + near_m)
            & (sy >= y.min() - near_m)
            & (sy <= y.max() + near_m)
        )
        candidates = np.flatnonzero(box)
        near_time = np.full(len(stops.ids), np.nan)
        if len(candidates):
            dist, when = _project(x, y, fixes.time[rows].astype(np.float64), sx[candidates], sy[candidates])
            close = dist <= near_m
            near_time[candidates[close]] = when[close]
        found = _best_pattern(near_time, schedule, entry_pattern, entry_stop, lengths, min_hits)
        if found is None:
            unmatched["no_pattern"] += 1
            continue
        pattern, _ = found
        stops_of = schedule.patterns[pattern]
        ordered = near_time[stops_of]
        hit = _in_order(ordered)
        if len(hit) < (~np.isnan(ordered)).sum():  # a stop passed twice, or out of order: time in order
            ordered = _ordered(x, y, fixes.time[rows].astype(np.float64), sx[stops_of], sy[stops_of], near_m)
            hit = _in_order(ordered)
        if len(hit) < min_hits:
            unmatched["no_pattern"] += 1
            continue
        positions, seconds = _fill(stops_of, hit, ordered, sx, sy)
        times = np.round(seconds).astype(np.int64) - origin
        first = int(rows[0])
        traces.append(
            Trace(
                vehicle=str(fixes.vehicle[first]),
                trip=str(fixes.trip[first]),
                route=str(fixes.route[first]),
                pattern=pattern,
                stops=positions,
                times=times,
            )
        )
    return Passages(tuple(traces), dict(unmatched))


def _fill(pattern: I64, hit: I64, passed: F64, sx: F64, sy: F64) -> tuple[I64, F64]:
    """Passages at every stop of the pattern from the first stop passed to the last: those passed as
    measured, the stops between (missed where the polyline of 2-minute fixes cuts a corner) interpolated
    by distance along the pattern."""
    stops = pattern[hit[0] : hit[-1] + 1]
    along = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(sx[stops]), np.diff(sy[stops])))))
    seconds = np.interp(along, along[hit - hit[0]], passed[hit])
    return np.arange(hit[0], hit[-1] + 1, dtype=np.int64), seconds


def _in_order(times: F64) -> I64:
    """Positions of the passed stops that keep time order (each no earlier than the last one kept)."""
    kept: list[int] = []
    last = -np.inf
    for n in np.flatnonzero(~np.isnan(times)).tolist():
        if times[n] >= last:
            kept.append(n)
            last = times[n]
    return np.asarray(kept, dtype=np.int64)


def _best_pattern(
    near_time: F64, schedule: Schedule, entry_pattern: I64, entry_stop: I64, lengths: I64, min_hits: int
) -> tuple[int, I64] | None:
    hits = np.bincount(entry_pattern, weights=~np.isnan(near_time[entry_stop]), minlength=len(lengths))
    best: tuple[int, float, int, I64] | None = None
    for pattern in np.flatnonzero(hits >= min_hits).tolist():
        kept = _in_order(near_time[schedule.patterns[pattern]])
        score = (len(kept), len(kept) / lengths[pattern])
        if len(kept) >= min_hits and (best is None or score > best[:2]):
            best = (len(kept), score[1], pattern, kept)
    return None if best is None else (best[2], best[3])


# --- on-time performance -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Windows:
    """On time: from `early_s` before to `late_s` after the scheduled time (defaults -1 / +5 min)."""

    early_s: int = 60
    late_s: int = 300


@dataclass(frozen=True)
class Assigned:
    """A trace with its scheduled trip and the deviation (observed - scheduled, s) at each passage."""

    trace: Trace
    scheduled_trip: int
    deviation: I64


@dataclass(frozen=True)
class OnTime:
    assigned: tuple[Assigned, ...]
    unmatched: dict[str, int]
    """Traces without a scheduled trip: `no_pattern`, `too_few_fixes`, `no_scheduled_trip_near`."""
    windows: Windows

    def by_route(self) -> dict[str, Summary]:
        """Route → passages, shares early / on time / late, median deviation (s)."""
        groups: dict[str, list[I64]] = {}
        for a in self.assigned:
            groups.setdefault(a.trace.route, []).append(a.deviation)
        return {
            route: summarise(np.concatenate(devs), self.windows) for route, devs in sorted(groups.items())
        }


class Summary(TypedDict):
    passages: int
    early: float
    on_time: float
    late: float
    median_deviation_s: float


def summarise(deviation: I64, windows: Windows) -> Summary:
    n = len(deviation)
    early = int((deviation < -windows.early_s).sum())
    late = int((deviation > windows.late_s).sum())
    return {
        "passages": n,
        "early": early / n if n else 0.0,
        "on_time": (n - early - late) / n if n else 0.0,
        "late": late / n if n else 0.0,
        "median_deviation_s": float(np.median(deviation)) if n else 0.0,
    }


def on_time(
    found: Passages, schedule: Schedule, *, windows: Windows | None = None, max_match_s: int = 1800
) -> OnTime:
    """Assign each trace the scheduled trip of its pattern with the smallest median |deviation| (greedy,
    best first, each scheduled trip once), and measure every passage against it."""
    windows = windows or Windows()
    trips_of: dict[int, I64] = {}
    for pattern in {t.pattern for t in found.traces}:
        trips_of[pattern] = np.flatnonzero(schedule.trip_pattern == pattern)
    options: list[tuple[float, int, int]] = []
    for n, trace in enumerate(found.traces):
        trips = trips_of[trace.pattern]
        if len(trips) == 0:
            continue
        length = len(schedule.patterns[trace.pattern])
        cells = schedule.trip_start[trips][:, None] + trace.stops[None, :]
        assert (trace.stops < length).all()
        median = np.median(np.abs(trace.times[None, :] - schedule.times[cells]), axis=1)
        for k in np.flatnonzero(median <= max_match_s).tolist():
            options.append((float(median[k]), n, int(trips[k])))
    options.sort()
    taken_trace: dict[int, int] = {}
    taken_trip: set[int] = set()
    for _, n, trip in options:
        if n in taken_trace or trip in taken_trip:
            continue
        taken_trace[n] = trip
        taken_trip.add(trip)
    assigned = []
    unmatched = Counter(found.unmatched)
    for n, trace in enumerate(found.traces):
        chosen = taken_trace.get(n)
        if chosen is None:
            unmatched["no_scheduled_trip_near"] += 1
            continue
        scheduled = schedule.trip_times(chosen)[trace.stops]
        assigned.append(Assigned(trace, chosen, trace.times - scheduled))
    return OnTime(tuple(assigned), dict(unmatched), windows)


def planned_passages(traces: Sequence[Trace], schedule: Schedule) -> dict[tuple[str, int], list[int]]:
    """(route, stop) → scheduled times there, sorted and unique, of every scheduled trip of the patterns
    the route's traces matched (times that repeat exactly are counted once: a timetable extract may list
    the same trip for each day type)."""
    route_patterns: dict[str, set[int]] = {}
    for trace in traces:
        route_patterns.setdefault(trace.route, set()).add(trace.pattern)
    planned: dict[tuple[str, int], set[int]] = {}
    for route, patterns in route_patterns.items():
        for trip in np.flatnonzero(np.isin(schedule.trip_pattern, list(patterns))).tolist():
            stops = schedule.patterns[int(schedule.trip_pattern[trip])]
            for stop, time in zip(stops.tolist(), schedule.trip_times(trip).tolist(), strict=True):
                planned.setdefault((route, int(stop)), set()).add(int(time))
    return {key: sorted(times) for key, times in planned.items()}


# --- headway regularity --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Headway:
    route: str
    stop: int
    passages: int
    mean_headway_s: float
    cv: float
    """Coefficient of variation of the headways (std / mean); 0 for evenly spaced service."""
    wait_s: float
    """Average wait of a rider arriving at random: sum h² / (2 sum h)."""
    excess_wait_s: float
    """`wait_s` minus the scheduled wait (EWT) when `scheduled` is set, else minus half the mean headway
    (the wait with evenly spaced service at the observed frequency)."""
    scheduled_wait_s: float | None


def _wait(headways: F64) -> float:
    return float((headways**2).sum() / (2 * headways.sum()))


def headways(
    found: Passages, schedule: Schedule | None, *, start_s: int, end_s: int, min_passages: int = 3
) -> list[Headway]:
    """Regularity per (route, stop) of passages in [start_s, end_s) of the service day. With a schedule,
    the scheduled passages of the patterns the route's traces matched, in the same window (times that
    repeat exactly are counted once: a timetable extract may list a trip of each day type), give EWT."""
    observed: dict[tuple[str, int], list[int]] = {}
    for trace in found.traces:
        stops = schedule.patterns[trace.pattern][trace.stops] if schedule is not None else trace.stops
        for stop, time in zip(stops.tolist(), trace.times.tolist(), strict=True):
            if start_s <= time < end_s:
                observed.setdefault((trace.route, int(stop)), []).append(time)
    planned = planned_passages(found.traces, schedule) if schedule is not None else {}
    result = []
    for (route, stop), times in sorted(observed.items()):
        if len(times) < min_passages:
            continue
        gaps = np.diff(np.sort(np.asarray(times, dtype=np.float64)))
        gaps = gaps[gaps > 0]
        if len(gaps) < 2:
            continue
        mean = float(gaps.mean())
        wait = _wait(gaps)
        plan = [t for t in planned.get((route, stop), []) if start_s <= t < end_s]
        scheduled = _wait(np.diff(np.asarray(plan, dtype=np.float64))) if len(plan) >= 3 else None
        result.append(
            Headway(
                route=route,
                stop=stop,
                passages=len(times),
                mean_headway_s=mean,
                cv=float(gaps.std() / mean),
                wait_s=wait,
                excess_wait_s=wait - (scheduled if scheduled is not None else mean / 2),
                scheduled_wait_s=scheduled,
            )
        )
    return result


# --- transfer connections ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TransferRules:
    walk_m: float = 200.0
    """Stops of different routes at most this far apart are an interchange."""
    walk_speed_mps: float = 1.2
    min_transfer_s: int = 60
    """Added to the walk: time to get off and reach the other stop's door."""
    max_wait_s: int = 900
    rail_routes: frozenset[str] = field(default_factory=lambda: frozenset({"550"}))
    """Routes that are metro / rail (Capital Metro's MetroRail Red Line is 550); the others are bus."""

    def mode(self, route: str) -> str:
        return "RAIL" if route in self.rail_routes else "BUS"


@dataclass(frozen=True, kw_only=True)
class Connection:
    from_route: str
    to_route: str
    from_stop: int
    to_stop: int
    scheduled_arrival_s: int
    scheduled_departure_s: int
    observed_arrival_s: int
    observed_departure_s: int
    walk_s: int

    @property
    def made(self) -> bool:
        return self.observed_departure_s >= self.observed_arrival_s + self.walk_s


@dataclass(frozen=True)
class Transfers:
    connections: tuple[Connection, ...]
    unobserved: int
    """Scheduled connections whose departing trip was not observed at that stop (left out)."""
    rules: TransferRules

    def by_modes(self) -> dict[str, dict[str, float]]:
        """`BUS->RAIL` ... → scheduled connections observed, share made."""
        groups: dict[str, list[bool]] = {}
        for c in self.connections:
            key = f"{self.rules.mode(c.from_route)}->{self.rules.mode(c.to_route)}"
            groups.setdefault(key, []).append(c.made)
        return {k: {"connections": len(v), "made": sum(v) / len(v)} for k, v in sorted(groups.items())}


def transfers(
    timed: OnTime, schedule: Schedule, stops: StopTable, rules: TransferRules | None = None
) -> Transfers:
    """Scheduled connections between observed trips at interchange stops, and whether each was made. The
    connecting departure is the first scheduled one of the other route at that stop (observed or not);
    when no observed trip was assigned to it, the connection is counted `unobserved` and left out."""
    rules = rules or TransferRules()
    seen: dict[tuple[str, int], dict[int, int]] = {}
    for a in timed.assigned:
        pattern_stops = schedule.patterns[a.trace.pattern][a.trace.stops]
        scheduled = a.trace.times - a.deviation
        for stop, sched, time in zip(
            pattern_stops.tolist(), scheduled.tolist(), a.trace.times.tolist(), strict=True
        ):
            seen.setdefault((a.trace.route, int(stop)), {})[int(sched)] = int(time)
    planned = planned_passages([a.trace for a in timed.assigned], schedule)
    by_stop: dict[int, list[str]] = {}
    for route, stop in seen:
        by_stop.setdefault(stop, []).append(route)
    used = np.zeros(len(stops.ids), bool)
    used[list(by_stop)] = True
    a_idx, b_idx, metres = nearby_pairs(stops.lat, stops.lon, used, rules.walk_m)
    pairs = [(s, s, 0.0) for s in by_stop]
    pairs += list(zip(a_idx.tolist(), b_idx.tolist(), metres.tolist(), strict=True))
    connections: list[Connection] = []
    unobserved = 0
    for s1, s2, distance in pairs:
        walk = int(np.ceil(distance / rules.walk_speed_mps))
        for r1 in by_stop[s1]:
            for r2 in by_stop.get(s2, []):
                if r1 == r2:
                    continue
                departures = np.asarray(planned.get((r2, s2), []), dtype=np.int64)
                observed = seen[(r2, s2)]
                for sched_arr, seen_arr in seen[(r1, s1)].items():
                    k = int(np.searchsorted(departures, sched_arr + walk + rules.min_transfer_s))
                    if k == len(departures) or departures[k] > sched_arr + rules.max_wait_s:
                        continue
                    departure = int(departures[k])
                    if departure not in observed:
                        unobserved += 1
                        continue
                    connections.append(
                        Connection(
                            from_route=r1,
                            to_route=r2,
                            from_stop=s1,
                            to_stop=s2,
                            scheduled_arrival_s=sched_arr,
                            scheduled_departure_s=departure,
                            observed_arrival_s=seen_arr,
                            observed_departure_s=observed[departure],
                            walk_s=walk,
                        )
                    )
    return Transfers(tuple(connections), unobserved, rules)


# --- bike-share connections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BikeConnections:
    """Arrivals at stops with a bike-share station within walking distance, and how many found a bike."""

    arrivals: int
    """Observed arrivals at a stop with a station within `walk_m`."""
    made: int
    """Of those, arrivals for which a station within `walk_m` had a bike when the rider got there."""
    unknown: int
    """Arrivals with no station status at that moment (before the first poll, or a stale one)."""
    no_station: int
    """Arrivals at stops without a station within `walk_m` (not connections)."""


def bike_connections(
    stop_lat: F64,
    stop_lon: F64,
    arrival_posix: I64,
    stations: Sequence[Station],
    snapshots: Sequence[StatusSnapshot],
    *,
    walk_m: float = 200.0,
    walk_speed_mps: float = 1.2,
) -> BikeConnections:
    """Bus or metro to bike-share (公交/地铁接驳共享单车): for each arrival (stop position, POSIX time), was
    there a bike at a station within `walk_m` when the rider walked there? Availability from the GBFS
    station_status poll at or before that moment (`gbfs.network_at`)."""
    if not stations:
        return BikeConnections(0, 0, 0, len(arrival_posix))
    lat = np.asarray([s.lat for s in stations])
    lon = np.asarray([s.lon for s in stations])
    arrivals = made = unknown = no_station = 0
    for slat, slon, when in zip(stop_lat.tolist(), stop_lon.tolist(), arrival_posix.tolist(), strict=True):
        metres = distance_m(np.full(len(lat), slat), np.full(len(lat), slon), lat, lon)
        near = np.flatnonzero(metres <= walk_m)
        if len(near) == 0:
            no_station += 1
            continue
        arrivals += 1
        walked = int(when) + int(np.ceil(metres[near].min() / walk_speed_mps))
        net = network_at(stations, snapshots, walked)
        if net.at is None or not (net.pickup | net.dropoff).any():
            unknown += 1
            continue
        made += int(net.pickup[near].any())
    return BikeConnections(arrivals, made, unknown, no_station)
