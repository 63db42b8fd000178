"""One service day's timetable as numpy arrays, the input of RAPTOR (`transit.raptor`).

Built from a merged network of GTFS feeds (`transit.merge`: linked stops become one, cross-feed walking
transfers) for one service date:
- trips that run that day (calendar.txt weekdays within its dates, then calendar_dates.txt additions and
  removals), plus the trips of the day before whose times pass 24:00, shifted by one day (negative times);
- stop times in seconds after midnight; a stop time with neither arrival nor departure between two timed
  stops is interpolated (`interpolate_times`: by shape_dist_traveled, else by distance between stops),
  one before the first or after the last timed stop is left out; one with only arrival or departure uses
  it for both;
- trips grouped into patterns (the same stop sequence), each split so that no trip overtakes another
  (FIFO: every column of arrivals and departures is sorted), which RAPTOR's earliest-trip search needs;
- footpaths between stops: transfers.txt minimum times (between parent stations expanded to their
  platforms), the network's walks between feeds, and walking transfers generated between stops within
  `walk_radius_m`, at `walk_speed_mps`, found with a uniform spatial grid. Footpaths are not closed
  transitively: a journey walks at most once between two rides.

Ids are namespaced by feed, `<feed>:<id>`, so ids that collide across feeds stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from dthub.domains.transit.geo import F64, I32, I64, Strs, nearby_pairs
from dthub.domains.transit.geo import distance_m as distance_m  # where plan and validate found it
from dthub.domains.transit.gtfs import WEEKDAYS, Feed, numbers, route_mode, seconds, texts, well_formed
from dthub.domains.transit.merge import Network, merge_feeds

DAY_S = 86_400
TIME_OFFSET_S = DAY_S
"""Added to times in search keys so that the previous day's shifted (negative) times stay positive."""
KEY_STRIDE = 4 * DAY_S
"""Search keys are `column * KEY_STRIDE + time + TIME_OFFSET_S`: one sorted array for every column."""


@dataclass(frozen=True, kw_only=True)
class Timetable:
    """Stops, patterns, trips and footpaths of one service day; every index is a position in these arrays."""

    day: date
    stop_ids: Strs
    """`<feed>:<stop_id>` per stop."""
    stop_names: Strs
    stop_lat: F64
    stop_lon: F64
    pattern_start: I64
    """Positions of pattern p are `pattern_start[p]:pattern_start[p + 1]` (a position is a column)."""
    position_stop: I32
    """Stop of each position."""
    position_pattern: I32
    column_start: I64
    """Times of position g (one per trip of its pattern, in trip order) are `column_start[g]:+trips`."""
    arrival: I32
    departure: I32
    search_key: I64
    """`g * KEY_STRIDE + departure + TIME_OFFSET_S`, sorted: one `searchsorted` finds each column's
    first trip leaving at or after a time."""
    pattern_trip_start: I64
    """Trips of pattern p are `pattern_trip_start[p]:pattern_trip_start[p + 1]`, in FIFO order."""
    trip_ids: Strs
    """`<feed>:<trip_id>` per trip; a previous-day trip has `@-1` appended."""
    trip_route: I32
    trip_headsign: Strs
    route_ids: Strs
    route_names: Strs
    route_modes: Strs
    stop_position_start: I64
    """Positions serving stop s are `stop_positions[stop_position_start[s]:stop_position_start[s + 1]]`."""
    stop_positions: I64
    footpath_start: I64
    """Footpaths from stop s are `footpath_start[s]:footpath_start[s + 1]` of the two arrays below."""
    footpath_to: I32
    footpath_s: I32
    alias_ids: Strs = field(default_factory=lambda: np.zeros(0, object))
    """Ids of stops linked to a stop of another feed (`transit.merge`), answered by that stop ..."""
    alias_stops: I32 = field(default_factory=lambda: np.zeros(0, np.int32))
    """... whose index is this."""

    @property
    def stops(self) -> int:
        return len(self.stop_ids)

    @property
    def patterns(self) -> int:
        return len(self.pattern_start) - 1

    @property
    def trips(self) -> int:
        return len(self.trip_ids)

    def pattern_trips(self, pattern: int) -> int:
        return int(self.pattern_trip_start[pattern + 1] - self.pattern_trip_start[pattern])

    def times(self, position: int, trip_in_pattern: int) -> tuple[int, int]:
        """(arrival, departure) of a pattern's trip (0-based in its pattern) at a position."""
        at = int(self.column_start[position]) + trip_in_pattern
        return int(self.arrival[at]), int(self.departure[at])

    def stop_index(self) -> dict[str, int]:
        """Stop id → index, the ids of linked stops included."""
        index = {str(stop_id): n for n, stop_id in enumerate(self.stop_ids)}
        index.update(zip(map(str, self.alias_ids), map(int, self.alias_stops), strict=True))
        return index

    def nbytes(self) -> int:
        """Bytes of the numeric arrays (the id strings not counted)."""
        return sum(
            value.nbytes
            for value in vars(self).values()
            if isinstance(value, np.ndarray) and value.dtype != object
        )


def active_services(feed: Feed, day: date) -> set[str]:
    """Service ids that run on `day`: calendar.txt, then calendar_dates.txt exceptions (1 add, 2 remove)."""
    running: set[str] = set()
    calendar = feed.get("calendar.txt")
    if calendar.num_rows:
        stamp = day.strftime("%Y%m%d")
        weekday = calendar[WEEKDAYS[day.weekday()]]
        runs = pc.and_(
            pc.equal(weekday, "1"),
            pc.and_(
                pc.less_equal(calendar["start_date"], stamp), pc.greater_equal(calendar["end_date"], stamp)
            ),
        )
        running.update(texts(calendar["service_id"].filter(pc.fill_null(runs, False))))
    dates = feed.get("calendar_dates.txt")
    if dates.num_rows:
        today = dates.filter(pc.equal(dates["date"], day.strftime("%Y%m%d")))
        for service, exception in zip(
            texts(today["service_id"]), texts(today["exception_type"]), strict=True
        ):
            if exception == "1":
                running.add(service)
            elif exception == "2":
                running.discard(service)
    return running


@dataclass
class _Trips:
    """Stop times of the trip instances of the day, before grouping: one row per stop time."""

    trip_ids: list[Strs]
    trip_routes: list[I32]
    trip_headsigns: list[Strs]
    trip: list[I64]
    stop: list[I32]
    sequence: list[I64]
    arrival: list[I32]
    departure: list[I32]
    count: int = 0


def build_timetable(
    network: Network | Sequence[Feed],
    day: date,
    *,
    walk_radius_m: float = 300.0,
    walk_speed_mps: float = 1.2,
) -> Timetable:
    """The timetable of service day `day` over a merged network (or feeds, merged with the default rule),
    with footpaths (see the module docstring)."""
    if not isinstance(network, Network):
        network = merge_feeds(network, walk_speed_mps=walk_speed_mps)
    rows = np.arange(len(network.stop_ids))
    kept = network.linked_to == rows
    index_of_row = (np.cumsum(kept) - 1)[network.linked_to].astype(np.int64)
    lat, lon = network.stop_lat[kept], network.stop_lon[kept]
    route_ids: list[Strs] = []
    route_names: list[Strs] = []
    route_modes: list[Strs] = []
    collected = _Trips([], [], [], [], [], [], [], [])
    explicit: list[tuple[I32, I32, I32]] = []
    route_base = 0
    for number, feed in enumerate(network.feeds):
        start, end = int(network.feed_start[number]), int(network.feed_start[number + 1])
        ids = texts(feed.column("stops.txt", "stop_id"))
        stop_lookup = dict(zip(ids.tolist(), index_of_row[start:end].tolist(), strict=True))
        routes = feed.get("routes.txt")
        rids = texts(routes["route_id"])
        route_ids.append(np.asarray([f"{feed.name}:{r}" for r in rids], dtype=object))
        short = texts(feed.column("routes.txt", "route_short_name"))
        long = texts(feed.column("routes.txt", "route_long_name"))
        route_names.append(np.where(short != "", short, long))
        route_types = numbers(routes["route_type"], default=3).astype(np.int64)
        route_modes.append(np.asarray([route_mode(int(t)) for t in route_types], dtype=object))
        route_lookup = {route_id: route_base + n for n, route_id in enumerate(rids)}
        for shift in (0, -1):
            _collect_trips(
                feed, day + timedelta(days=shift), shift, stop_lookup, route_lookup, (lat, lon), collected
            )
        explicit.append(_explicit_transfers(feed, stop_lookup))
        route_base += len(rids)
    explicit.append(
        (
            index_of_row[network.transfer_from].astype(np.int32),
            index_of_row[network.transfer_to].astype(np.int32),
            network.transfer_s.astype(np.int32),
        )
    )
    aliases = np.flatnonzero(~kept)
    return _assemble(
        day,
        stop_ids=network.stop_ids[kept],
        stop_names=network.stop_names[kept],
        lat=lat,
        lon=lon,
        route_ids=np.concatenate(route_ids) if route_ids else np.zeros(0, object),
        route_names=np.concatenate(route_names) if route_names else np.zeros(0, object),
        route_modes=np.concatenate(route_modes) if route_modes else np.zeros(0, object),
        collected=collected,
        explicit=explicit,
        walk_radius_m=walk_radius_m,
        walk_speed_mps=walk_speed_mps,
        aliases=(network.stop_ids[aliases], index_of_row[aliases].astype(np.int32)),
    )


def _collect_trips(
    feed: Feed,
    service_day: date,
    shift: int,
    stop_lookup: dict[str, int],
    route_lookup: dict[str, int],
    coordinates: tuple[F64, F64],
    out: _Trips,
) -> None:
    services = active_services(feed, service_day)
    trips = feed.get("trips.txt")
    running = trips.filter(pc.is_in(trips["service_id"], pa.array(sorted(services), pa.string())))
    if running.num_rows == 0:
        return
    stop_times = feed.get("stop_times.txt")
    stop_times = stop_times.filter(pc.is_in(stop_times["trip_id"], running["trip_id"]))
    arrival = seconds(well_formed(stop_times["arrival_time"], "time"))
    departure = seconds(well_formed(stop_times["departure_time"], "time"))
    arrival = np.where(arrival < 0, departure, arrival)
    departure = np.where(departure < 0, arrival, departure)
    trip_ids = texts(running["trip_id"])
    trip_number = {trip_id: n for n, trip_id in enumerate(trip_ids)}
    trip = np.fromiter((trip_number[t] for t in texts(stop_times["trip_id"])), np.int64, stop_times.num_rows)
    stop = np.fromiter((stop_lookup.get(s, -1) for s in texts(stop_times["stop_id"])), np.int32, len(trip))
    sequence = numbers(stop_times["stop_sequence"]).astype(np.int64)
    if (arrival < 0).any():
        travelled = (
            numbers(stop_times["shape_dist_traveled"])
            if "shape_dist_traveled" in stop_times.column_names
            else np.full(len(trip), np.nan)
        )
        arrival, departure = interpolate_times(
            trip, sequence, stop, arrival, departure, travelled, *coordinates
        )
    keep = (arrival >= 0) & (stop >= 0)
    if shift:
        last = np.zeros(len(trip_ids), np.int32)
        np.maximum.at(last, trip, departure)
        keep &= last[trip] >= DAY_S
        arrival, departure = arrival - DAY_S, departure - DAY_S
    suffix = f"@{shift}" if shift else ""
    out.trip_ids.append(np.asarray([f"{feed.name}:{t}{suffix}" for t in trip_ids], dtype=object))
    out.trip_routes.append(
        np.fromiter((route_lookup.get(r, -1) for r in texts(running["route_id"])), np.int32, len(trip_ids))
    )
    out.trip_headsigns.append(
        texts(
            feed.column("trips.txt", "trip_headsign").filter(
                pc.is_in(trips["service_id"], pa.array(sorted(services), pa.string()))
            )
        )
    )
    out.trip.append(trip[keep] + out.count)
    out.stop.append(stop[keep])
    out.sequence.append(sequence[keep])
    out.arrival.append(arrival[keep].astype(np.int32))
    out.departure.append(departure[keep].astype(np.int32))
    out.count += len(trip_ids)


def interpolate_times(
    trip: I64,
    sequence: I64,
    stop: I32,
    arrival: I32,
    departure: I32,
    travelled: F64,
    lat: F64,
    lon: F64,
) -> tuple[I32, I32]:
    """Times for stop times without any (GTFS allows them between timepoints), linear in the distance
    travelled between the last timed stop before and the first after: `shape_dist_traveled` where the stop
    and both timed stops have it, else the straight-line distance along the trip's stops (evenly by stop
    count when that is zero). Stops before a trip's first or after its last timed stop stay untimed (-1).
    Rows are stop times in any order; `stop` indexes `lat`, `lon` (-1: unknown stop)."""
    arrival, departure = arrival.copy(), departure.copy()
    order = np.lexsort((sequence, trip))
    rows = len(order)
    position = np.arange(rows)
    t, st = trip[order], stop[order]
    first_of_trip = np.ones(rows, bool)
    first_of_trip[1:] = t[1:] != t[:-1]
    last_of_trip = np.ones(rows, bool)
    last_of_trip[:-1] = first_of_trip[1:]
    trip_start = np.maximum.accumulate(np.where(first_of_trip, position, 0))
    trip_end = np.minimum.accumulate(np.where(last_of_trip, position, rows)[::-1])[::-1]
    step = np.zeros(rows)
    linked = ~first_of_trip[1:] & (st[1:] >= 0) & (st[:-1] >= 0)
    previous, current = st[:-1][linked], st[1:][linked]
    step[1:][linked] = distance_m(lat[previous], lon[previous], lat[current], lon[current])
    step[~np.isfinite(step)] = 0.0
    along = np.cumsum(step)
    timed = arrival[order] >= 0
    before = np.maximum.accumulate(np.where(timed, position, -1))
    after = np.minimum.accumulate(np.where(timed, position, rows)[::-1])[::-1]
    gap = ~timed & (before >= trip_start) & (after <= trip_end)
    g, p, q = position[gap], before[gap], after[gap]
    shape = travelled[order]
    by_shape = np.isfinite(shape[g]) & np.isfinite(shape[p]) & np.isfinite(shape[q]) & (shape[q] > shape[p])
    by_line = along[q] > along[p]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(
            by_shape,
            (shape[g] - shape[p]) / (shape[q] - shape[p]),
            np.where(by_line, (along[g] - along[p]) / (along[q] - along[p]), (g - p) / (q - p)),
        )
    start = departure[order][p].astype(np.float64)
    end = arrival[order][q].astype(np.float64)
    times = np.round(start + np.clip(fraction, 0.0, 1.0) * (end - start)).astype(np.int32)
    arrival[order[g]] = times
    departure[order[g]] = times
    return arrival, departure


def _explicit_transfers(feed: Feed, stop_lookup: dict[str, int]) -> tuple[I32, I32, I32]:
    """transfers.txt minimum times (type 2) between distinct stops, parent stations expanded to platforms."""
    transfers = feed.get("transfers.txt")
    empty = np.zeros(0, np.int32)
    if transfers.num_rows == 0 or "min_transfer_time" not in transfers.column_names:
        return empty, empty, empty
    children: dict[str, list[str]] = {}
    for stop_id, parent in zip(
        texts(feed.column("stops.txt", "stop_id")),
        texts(feed.column("stops.txt", "parent_station")),
        strict=True,
    ):
        if parent:
            children.setdefault(parent, []).append(stop_id)
    rows = zip(
        texts(transfers["from_stop_id"]),
        texts(transfers["to_stop_id"]),
        texts(transfers["transfer_type"]),
        texts(transfers["min_transfer_time"]),
        strict=True,
    )
    pairs: list[tuple[int, int, int]] = []
    for origin, target, kind, minimum in rows:
        if kind != "2" or not minimum:
            continue
        for a in children.get(origin, [origin]):
            for b in children.get(target, [target]):
                if a != b and a in stop_lookup and b in stop_lookup:
                    pairs.append((stop_lookup[a], stop_lookup[b], int(float(minimum))))
    if not pairs:
        return empty, empty, empty
    array = np.asarray(pairs, dtype=np.int32)
    return array[:, 0], array[:, 1], array[:, 2]


def _assemble(
    day: date,
    *,
    stop_ids: Strs,
    stop_names: Strs,
    lat: F64,
    lon: F64,
    route_ids: Strs,
    route_names: Strs,
    route_modes: Strs,
    collected: _Trips,
    explicit: list[tuple[I32, I32, I32]],
    walk_radius_m: float,
    walk_speed_mps: float,
    aliases: tuple[Strs, I32],
) -> Timetable:
    trip_ids = np.concatenate(collected.trip_ids) if collected.trip_ids else np.zeros(0, object)
    trip_routes = np.concatenate(collected.trip_routes) if collected.trip_routes else np.zeros(0, np.int32)
    headsigns = np.concatenate(collected.trip_headsigns) if collected.trip_headsigns else np.zeros(0, object)
    trip = np.concatenate(collected.trip) if collected.trip else np.zeros(0, np.int64)
    stop = np.concatenate(collected.stop) if collected.stop else np.zeros(0, np.int32)
    sequence = np.concatenate(collected.sequence) if collected.sequence else np.zeros(0, np.int64)
    arrival = np.concatenate(collected.arrival) if collected.arrival else np.zeros(0, np.int32)
    departure = np.concatenate(collected.departure) if collected.departure else np.zeros(0, np.int32)
    order = np.lexsort((sequence, trip))
    trip, stop, arrival, departure = trip[order], stop[order], arrival[order], departure[order]
    bounds = np.flatnonzero(np.diff(trip)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(trip)]))
    groups: dict[bytes, list[int]] = {}
    for n, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        if b - a >= 2:
            groups.setdefault(stop[a:b].tobytes(), []).append(n)
    pattern_start = [0]
    position_stop: list[I32] = []
    column_start: list[I64] = []
    arrivals: list[I32] = []
    departures: list[I32] = []
    pattern_trip_start = [0]
    kept_trips: list[int] = []
    time_base = 0
    for members in groups.values():
        first = starts[members[0]]
        length = ends[members[0]] - first
        stops_of = stop[first : first + length]
        rows = np.stack([np.arange(starts[m], ends[m]) for m in members])
        arr, dep = arrival[rows], departure[rows]
        for group in _fifo_groups(arr, dep):
            position_stop.append(stops_of)
            pattern_start.append(pattern_start[-1] + int(length))
            group_arr, group_dep = arr[group].T, dep[group].T
            count = len(group)
            column_start.append(time_base + count * np.arange(length, dtype=np.int64))
            arrivals.append(group_arr.reshape(-1))
            departures.append(group_dep.reshape(-1))
            time_base += count * int(length)
            kept_trips.extend(int(trip[starts[members[g]]]) for g in group)
            pattern_trip_start.append(pattern_trip_start[-1] + count)
    positions_stop = (
        np.concatenate(position_stop).astype(np.int32) if position_stop else np.zeros(0, np.int32)
    )
    pattern_bounds = np.asarray(pattern_start, dtype=np.int64)
    position_pattern = (
        np.searchsorted(pattern_bounds, np.arange(len(positions_stop)), side="right") - 1
    ).astype(np.int32)
    columns = np.concatenate(column_start) if column_start else np.zeros(0, np.int64)
    all_arrival = np.concatenate(arrivals) if arrivals else np.zeros(0, np.int32)
    all_departure = np.concatenate(departures) if departures else np.zeros(0, np.int32)
    column_of_time = np.repeat(np.arange(len(columns)), np.diff(np.append(columns, len(all_departure))))
    search_key = column_of_time.astype(np.int64) * KEY_STRIDE + all_departure + TIME_OFFSET_S
    kept = np.asarray(kept_trips, dtype=np.int64)
    by_stop = np.argsort(positions_stop, kind="stable")
    stop_position_start = np.searchsorted(positions_stop[by_stop], np.arange(len(stop_ids) + 1)).astype(
        np.int64
    )
    served = np.zeros(len(stop_ids), bool)
    served[positions_stop] = True
    footpath_start, footpath_to, footpath_s = _footpaths(
        lat, lon, served, explicit, walk_radius_m=walk_radius_m, walk_speed_mps=walk_speed_mps
    )
    return Timetable(
        day=day,
        stop_ids=stop_ids,
        stop_names=stop_names,
        stop_lat=lat,
        stop_lon=lon,
        pattern_start=pattern_bounds,
        position_stop=positions_stop,
        position_pattern=position_pattern,
        column_start=columns,
        arrival=all_arrival.astype(np.int32),
        departure=all_departure.astype(np.int32),
        search_key=search_key,
        pattern_trip_start=np.asarray(pattern_trip_start, dtype=np.int64),
        trip_ids=trip_ids[kept] if len(kept) else np.zeros(0, object),
        trip_route=trip_routes[kept] if len(kept) else np.zeros(0, np.int32),
        trip_headsign=headsigns[kept] if len(kept) else np.zeros(0, object),
        route_ids=route_ids,
        route_names=route_names,
        route_modes=route_modes,
        stop_position_start=stop_position_start,
        stop_positions=by_stop.astype(np.int64),
        footpath_start=footpath_start,
        footpath_to=footpath_to,
        footpath_s=footpath_s,
        alias_ids=aliases[0],
        alias_stops=aliases[1],
    )


def _fifo_groups(arrival: I32, departure: I32) -> list[list[int]]:
    """Trips (rows) split into groups in which no trip overtakes another, each sorted by departure."""
    order = np.lexsort((arrival[:, -1], departure[:, 0]))
    groups: list[list[int]] = []
    for row in order.tolist():
        for group in groups:
            last = group[-1]
            if (departure[row] >= departure[last]).all() and (arrival[row] >= arrival[last]).all():
                group.append(row)
                break
        else:
            groups.append([row])
    return groups


def _footpaths(
    lat: F64,
    lon: F64,
    served: npt.NDArray[np.bool_],
    explicit: list[tuple[I32, I32, I32]],
    *,
    walk_radius_m: float,
    walk_speed_mps: float,
) -> tuple[I64, I32, I32]:
    a, b, distance = nearby_pairs(lat, lon, served, walk_radius_m)
    walk = np.ceil(distance / walk_speed_mps).astype(np.int64)
    given_from = np.concatenate([e[0] for e in explicit]).astype(np.int64)
    given_to = np.concatenate([e[1] for e in explicit]).astype(np.int64)
    given_s = np.concatenate([e[2] for e in explicit]).astype(np.int64)
    # transfers.txt wins over a generated walk between the same two stops: it is listed first
    source = np.concatenate((given_from, a))
    target = np.concatenate((given_to, b))
    duration = np.concatenate((given_s, walk))
    pair = source * len(lat) + target
    _, first = np.unique(pair, return_index=True)
    source, target, duration = source[first], target[first], duration[first]
    order = np.lexsort((target, source))
    source, target, duration = source[order], target[order], duration[order]
    start = np.searchsorted(source, np.arange(len(lat) + 1)).astype(np.int64)
    return start, target.astype(np.int32), duration.astype(np.int32)
