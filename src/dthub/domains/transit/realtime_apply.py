"""Realtime times in the planner: a `Timetable` with GTFS-RT TripUpdates applied, so that RAPTOR plans on
predicted rather than scheduled times (实时到站预测).

Per the GTFS-RT reference (TripUpdate, "stop time updates"):
- a StopTimeUpdate's arrival/departure is an absolute `time` or a `delay` on the schedule; a missing
  departure takes the arrival's delay, a missing arrival the departure's;
- the last delay propagates to the later stops without an update, until the next update; stops before the
  first update keep their schedule (or take the trip-level `delay` when the TripUpdate has one);
- `NO_DATA` stops (and the stops after them, up to the next update) keep their schedule; `SKIPPED` stops
  are not served (the trip loses that stop), the delay still propagates past them;
- a `CANCELED` trip is removed; `ADDED` and `DUPLICATED` trips are not supported and counted unapplied.
Predicted times are made consistent along the trip (never before the previous departure) and dwell is
kept non-negative.

Updated trips leave their pattern (removing a trip keeps a pattern FIFO) and are grouped again, by stop
sequence and FIFO, into new patterns appended to the timetable; footpaths and stops are unchanged.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from dthub.domains.transit.gtfs import Feed, numbers, texts
from dthub.domains.transit.realtime import Schedule, StopTimeUpdate, TripUpdate, match_trip
from dthub.domains.transit.timetable import KEY_STRIDE, TIME_OFFSET_S, Timetable

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Applied:
    """A timetable with realtime times, and what was done with each TripUpdate."""

    timetable: Timetable
    updated: int
    """Trips whose times changed or that lost a skipped stop."""
    cancelled: int
    unapplied: dict[str, int]
    """Reason → TripUpdates not applied: the matching reasons of `realtime.Match`, and
    `other_service_day`, `not_in_timetable`, `unsupported_<relationship>`, `no_stop_matched`."""
    stop_updates_unmatched: int
    """StopTimeUpdates whose stop is not on the trip."""


@dataclass
class _TripTimes:
    stops: I32
    arrival: I64
    departure: I64
    served: npt.NDArray[np.bool_]


def propagate(
    scheduled_arrival: I64,
    scheduled_departure: I64,
    updated_at: Sequence[int],
    updates: Sequence[StopTimeUpdate],
    *,
    origin: int,
    trip_delay: int | None = None,
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Predicted (arrival, departure, served) at each stop of a trip; `updated_at[i]` is the index of the
    stop `updates[i]` is for, in trip order; `origin` is the POSIX time of the service day's 00:00."""
    n = len(scheduled_arrival)
    arrival, departure = scheduled_arrival.copy(), scheduled_departure.copy()
    served = np.ones(n, bool)
    by_index = dict(zip(updated_at, updates, strict=True))
    delay: int | None = trip_delay
    for i in range(n):
        update = by_index.get(i)
        if update is not None:
            if update.schedule_relationship == "NO_DATA":
                delay = None
            elif update.schedule_relationship == "SKIPPED":
                served[i] = False
            else:
                arrive = _delay(update.arrival, int(scheduled_arrival[i]), origin)
                leave = _delay(update.departure, int(scheduled_departure[i]), origin)
                arrive = arrive if arrive is not None else leave
                leave = leave if leave is not None else arrive
                if arrive is not None and leave is not None:
                    arrival[i] = scheduled_arrival[i] + arrive
                    departure[i] = scheduled_departure[i] + leave
                    delay = leave
                    continue
        if delay is not None:
            arrival[i] = scheduled_arrival[i] + delay
            departure[i] = scheduled_departure[i] + delay
    # consistent along the trip: never arrive before the previous served departure, never leave before
    # arriving
    last = np.iinfo(np.int64).min
    for i in np.flatnonzero(served).tolist():
        arrival[i] = max(arrival[i], last)
        departure[i] = max(departure[i], arrival[i])
        last = int(departure[i])
    return arrival, departure, served


def _delay(event: object, scheduled: int, origin: int) -> int | None:
    if event is None:
        return None
    delay, time = getattr(event, "delay", None), getattr(event, "time", None)
    if time is not None:
        return int(time) - origin - scheduled
    return int(delay) if delay is not None else None


def _stop_sequences(feed: Feed) -> dict[str, list[tuple[int, str]]]:
    """trip_id → [(stop_sequence, stop_id)] in order, of the stop times with a time (as the timetable keeps
    them)."""
    table = feed.get("stop_times.txt")
    timed = np.asarray(
        [
            bool(a) or bool(d)
            for a, d in zip(texts(table["arrival_time"]), texts(table["departure_time"]), strict=True)
        ]
    )
    result: dict[str, list[tuple[int, str]]] = {}
    sequences = numbers(table["stop_sequence"]).astype(np.int64)
    for trip, sequence, stop, keep in zip(
        texts(table["trip_id"]).tolist(),
        sequences.tolist(),
        texts(table["stop_id"]).tolist(),
        timed,
        strict=True,
    ):
        if keep:
            result.setdefault(trip, []).append((sequence, stop))
    for stops in result.values():
        stops.sort()
    return result


def _locate(
    updates: Sequence[StopTimeUpdate], stop_ids: list[str], sequences: list[tuple[int, str]] | None
) -> tuple[list[int], list[StopTimeUpdate], int]:
    """Index in the trip of each update's stop (by stop_sequence when the static trip has it, else the
    next occurrence of its stop_id), in trip order; and how many matched no stop."""
    at: list[int] = []
    kept: list[StopTimeUpdate] = []
    missing, cursor = 0, 0
    rank = {seq: n for n, (seq, _) in enumerate(sequences or [])}
    for update in updates:
        index: int | None = None
        if update.stop_sequence is not None and update.stop_sequence in rank and sequences is not None:
            candidate = rank[update.stop_sequence]
            if candidate < len(stop_ids) and (
                update.stop_id is None or stop_ids[candidate] == update.stop_id
            ):
                index = candidate
        elif update.stop_id is not None:
            index = next((i for i in range(cursor, len(stop_ids)) if stop_ids[i] == update.stop_id), None)
        if index is None or (at and index <= at[-1]):
            missing += 1
            continue
        at.append(index)
        kept.append(update)
        cursor = index + 1
    return at, kept, missing


def apply_trip_updates(
    tt: Timetable, updates: Sequence[TripUpdate], *, static: Feed, feed_name: str | None = None
) -> Applied:
    """`tt` with the TripUpdates of one realtime feed applied; `static` is the GTFS feed they refer to,
    named in `tt` as `feed_name` (default: its name)."""
    schedule = Schedule(static)
    prefix = f"{feed_name or static.name}:"
    trip_index = {str(t): n for n, t in enumerate(tt.trip_ids)}
    trip_pattern = np.searchsorted(tt.pattern_trip_start, np.arange(tt.trips), side="right") - 1
    origin = schedule.day_origin(tt.day)
    sequences: dict[str, list[tuple[int, str]]] | None = None
    unapplied: Counter[str] = Counter()
    changed: dict[int, _TripTimes | None] = {}
    missing_stops = 0
    for update in updates:
        match = match_trip(schedule, update.entity_id, update.trip, update.timestamp)
        if match.trip_id is None or match.service_date is None:
            unapplied[match.reason or "unmatched"] += 1
            continue
        relationship = update.trip.schedule_relationship
        if relationship in ("ADDED", "DUPLICATED", "UNSCHEDULED", "NEW", "REPLACEMENT"):
            unapplied[f"unsupported_{relationship.lower()}"] += 1
            continue
        shift = (match.service_date - tt.day).days
        if shift not in (0, -1):
            unapplied["other_service_day"] += 1
            continue
        key = f"{prefix}{match.trip_id}{'@-1' if shift else ''}"
        trip = trip_index.get(key)
        if trip is None:
            unapplied["not_in_timetable"] += 1
            continue
        if relationship in ("CANCELED", "DELETED"):
            changed[trip] = None
            continue
        pattern = int(trip_pattern[trip])
        row = trip - int(tt.pattern_trip_start[pattern])
        positions = np.arange(tt.pattern_start[pattern], tt.pattern_start[pattern + 1])
        cells = tt.column_start[positions] + row
        stops = tt.position_stop[positions]
        stop_ids = [str(s).removeprefix(prefix) for s in tt.stop_ids[stops]]
        if sequences is None and any(u.stop_sequence is not None for u in update.updates):
            sequences = _stop_sequences(static)
        at, kept, missing = _locate(
            update.updates, stop_ids, (sequences or {}).get(match.trip_id) if sequences else None
        )
        missing_stops += missing
        if update.updates and not kept and update.delay is None:
            unapplied["no_stop_matched"] += 1
            continue
        # GTFS-RT times of a trip of the day before count from that day's 00:00
        day_origin = origin if not shift else schedule.day_origin(tt.day - timedelta(days=1)) + 86_400
        arrival, departure, served = propagate(
            tt.arrival[cells].astype(np.int64),
            tt.departure[cells].astype(np.int64),
            at,
            kept,
            origin=day_origin,
            trip_delay=update.delay,
        )
        changed[trip] = _TripTimes(stops, arrival, departure, served)
    if not changed:
        return Applied(tt, 0, 0, dict(unapplied), missing_stops)
    cancelled = sum(times is None for times in changed.values())
    return Applied(
        _rebuild(tt, changed, trip_pattern),
        len(changed) - cancelled,
        cancelled,
        dict(unapplied),
        missing_stops,
    )


def _rebuild(tt: Timetable, changed: dict[int, _TripTimes | None], trip_pattern: I64) -> Timetable:
    """The timetable without the changed trips in their patterns, and with the updated trips in new FIFO
    patterns of their own stop sequences."""
    pattern_stops: list[I32] = []
    pattern_arrival: list[I64] = []  # trips x positions
    pattern_departure: list[I64] = []
    pattern_trips: list[I64] = []
    touched = set(trip_pattern[list(changed)].tolist())
    for p in range(tt.patterns):
        positions = np.arange(tt.pattern_start[p], tt.pattern_start[p + 1])
        first, last = int(tt.pattern_trip_start[p]), int(tt.pattern_trip_start[p + 1])
        trips = np.arange(first, last)
        if p in touched:
            trips = np.asarray([t for t in trips.tolist() if t not in changed], dtype=np.int64)
            if len(trips) == 0:
                continue
        cells = tt.column_start[positions][None, :] + (trips - first)[:, None]
        pattern_stops.append(tt.position_stop[positions])
        pattern_arrival.append(tt.arrival[cells].astype(np.int64))
        pattern_departure.append(tt.departure[cells].astype(np.int64))
        pattern_trips.append(trips)
    groups: dict[bytes, list[tuple[int, _TripTimes]]] = {}
    for trip, times in changed.items():
        if times is None or times.served.sum() < 2:
            continue
        stops = times.stops[times.served]
        groups.setdefault(stops.tobytes(), []).append((trip, times))
    for members in groups.values():
        stops = members[0][1].stops[members[0][1].served]
        arrival = np.stack([t.arrival[t.served] for _, t in members])
        departure = np.stack([t.departure[t.served] for _, t in members])
        ids = np.asarray([trip for trip, _ in members], dtype=np.int64)
        for group in _fifo(arrival, departure):
            pattern_stops.append(stops)
            pattern_arrival.append(arrival[group])
            pattern_departure.append(departure[group])
            pattern_trips.append(ids[group])
    return _assemble(tt, pattern_stops, pattern_arrival, pattern_departure, pattern_trips)


def _fifo(arrival: I64, departure: I64) -> list[I64]:
    """Rows split into groups in which no trip overtakes another, each by departure at the first stop."""
    order = np.lexsort((arrival[:, -1], departure[:, 0]))
    groups: list[list[int]] = []
    for row in order.tolist():
        for group in groups:
            if (departure[row] >= departure[group[-1]]).all() and (arrival[row] >= arrival[group[-1]]).all():
                group.append(row)
                break
        else:
            groups.append([row])
    return [np.asarray(g, dtype=np.int64) for g in groups]


def _assemble(
    tt: Timetable, stops: list[I32], arrival: list[I64], departure: list[I64], trips: list[I64]
) -> Timetable:
    lengths = np.asarray([len(s) for s in stops], dtype=np.int64)
    counts = np.asarray([len(t) for t in trips], dtype=np.int64)
    pattern_start = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    position_stop = np.concatenate(stops).astype(np.int32)
    position_pattern = np.repeat(np.arange(len(stops), dtype=np.int32), lengths)
    column_count = np.repeat(counts, lengths)
    column_start = np.concatenate(([0], np.cumsum(column_count)[:-1])).astype(np.int64)
    # position-major: each column holds its pattern's trips in order
    all_arrival = np.concatenate([a.T.reshape(-1) for a in arrival]).astype(np.int32)
    all_departure = np.concatenate([d.T.reshape(-1) for d in departure]).astype(np.int32)
    column_of_time = np.repeat(np.arange(len(column_start), dtype=np.int64), column_count)
    search_key = column_of_time * KEY_STRIDE + all_departure + TIME_OFFSET_S
    old_trip = np.concatenate(trips)
    by_stop = np.argsort(position_stop, kind="stable")
    stop_position_start = np.searchsorted(position_stop[by_stop], np.arange(tt.stops + 1)).astype(np.int64)
    return dataclasses.replace(
        tt,
        pattern_start=pattern_start,
        position_stop=position_stop,
        position_pattern=position_pattern,
        column_start=column_start,
        arrival=all_arrival,
        departure=all_departure,
        search_key=search_key,
        pattern_trip_start=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        trip_ids=tt.trip_ids[old_trip],
        trip_route=tt.trip_route[old_trip],
        trip_headsign=tt.trip_headsign[old_trip],
        stop_position_start=stop_position_start,
        stop_positions=by_stop.astype(np.int64),
    )
