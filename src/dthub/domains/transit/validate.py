"""GTFS feed validation in the spirit of the canonical GTFS validator (MobilityData): each finding has the
validator's notice code, a severity and where it is (file, 1-based data row, field).

Rules read `gtfs.FILES` (required files, columns, keys, references) and `TYPED_COLUMNS` (values that do
not read as numbers, times or dates); the timing rules (stop times out of order, impossible speeds, a
trip's first or last stop without a time), calendar gaps and expired service are below, each a small
function.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dthub.domains.transit.geo import distance_m
from dthub.domains.transit.gtfs import (
    FILES,
    FORMATS,
    SERVICE_FILES,
    Feed,
    malformed,
    numbers,
    parse_date,
    seconds,
    texts,
    well_formed,
)

Severity = Literal["ERROR", "WARNING", "INFO"]

TYPED_COLUMNS: dict[str, dict[str, str]] = {
    "stops.txt": {"stop_lat": "float", "stop_lon": "float", "location_type": "integer"},
    "routes.txt": {"route_type": "integer"},
    "trips.txt": {"direction_id": "integer"},
    "stop_times.txt": {
        "arrival_time": "time",
        "departure_time": "time",
        "stop_sequence": "integer",
        "shape_dist_traveled": "float",
        "timepoint": "integer",
    },
    "calendar.txt": {
        **dict.fromkeys(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"), "flag"),
        "sunday": "flag",
        "start_date": "date",
        "end_date": "date",
    },
    "calendar_dates.txt": {"date": "date", "exception_type": "integer"},
    "transfers.txt": {"transfer_type": "integer", "min_transfer_time": "integer"},
}
"""Typed columns of each file."""

MAX_SPEED_KMH = 300.0
"""Above this between two consecutive stops a trip is `fast_travel_between_consecutive_stops`."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One notice: `code` as the canonical validator names it."""

    code: str
    severity: Severity
    file: str
    row: int | None = None
    """1-based data row (the header is row 0); None for the whole file."""
    field: str | None = None
    detail: str = ""


def validate(feed: Feed, *, today: date | None = None, max_speed_kmh: float = MAX_SPEED_KMH) -> list[Finding]:
    """Every finding of a feed; `today` (default: the date now) decides expired service."""
    findings = structure(feed)
    if feed.has("stop_times.txt") and feed.has("stops.txt"):
        findings += _stop_times(feed, max_speed_kmh)
    findings += _calendar(feed, today or date.today())
    return findings


def counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per code."""
    return dict(sorted(Counter(f.code for f in findings).items()))


def structure(feed: Feed, files: Collection[str] | None = None) -> list[Finding]:
    """Findings of required files, columns and fields, duplicate keys and foreign keys; `files` limits them
    to the findings located in those files (a reference to a file the feed lacks is not checked)."""
    found: list[Finding] = []
    for spec in FILES:
        if files is not None and spec.name not in files:
            continue
        if not feed.has(spec.name):
            if spec.required:
                found.append(Finding(code="missing_required_file", severity="ERROR", file=spec.name))
            continue
        table = feed.get(spec.name)
        if table.num_rows == 0:
            if spec.required:
                found.append(Finding(code="empty_file", severity="ERROR", file=spec.name))
            continue
        for column in spec.columns:
            if column not in table.column_names:
                found.append(
                    Finding(code="missing_required_column", severity="ERROR", file=spec.name, field=column)
                )
                continue
            for row in np.flatnonzero(table[column].is_null().to_numpy(zero_copy_only=False)).tolist():
                found.append(
                    Finding(
                        code="missing_required_field",
                        severity="ERROR",
                        file=spec.name,
                        row=row + 1,
                        field=column,
                    )
                )
        for column, kind in TYPED_COLUMNS.get(spec.name, {}).items():
            if column in table.column_names:
                for row in malformed(table[column], kind).tolist():
                    found.append(
                        Finding(
                            code=FORMATS[kind][1],
                            severity="ERROR",
                            file=spec.name,
                            row=row + 1,
                            field=column,
                            detail=repr(table[column][row].as_py()),
                        )
                    )
        if spec.key and all(c in table.column_names for c in spec.key):
            keys = _keys(table, spec.key)
            seen: set[str] = set()
            for row, key in enumerate(keys):
                if key in seen:
                    found.append(
                        Finding(
                            code="duplicate_key",
                            severity="ERROR",
                            file=spec.name,
                            row=row + 1,
                            field=",".join(spec.key),
                            detail=key.replace("\x1f", ","),
                        )
                    )
                seen.add(key)
        for reference in spec.references:
            target = feed.get(reference.to)
            if not all(c in table.column_names for c in reference.columns):
                continue
            if not all(c in target.column_names for c in reference.key):
                continue
            known = set(_keys(target, reference.key))
            values = _keys(table, reference.columns)
            present = ~table[reference.columns[0]].is_null().to_numpy(zero_copy_only=False)
            for row in np.flatnonzero(present).tolist():
                if values[row] not in known:
                    found.append(
                        Finding(
                            code="foreign_key_violation",
                            severity="ERROR",
                            file=spec.name,
                            row=row + 1,
                            field=",".join(reference.columns),
                            detail=f"{values[row]} is not a {','.join(reference.key)} of {reference.to}",
                        )
                    )
    if files is None and not any(feed.has(file) for file in SERVICE_FILES):
        found.append(
            Finding(code="missing_calendar_and_calendar_date_files", severity="ERROR", file="calendar.txt")
        )
    return found


def _keys(table: pa.Table, columns: tuple[str, ...]) -> list[str]:
    parts = [texts(table[c]) for c in columns]
    return ["\x1f".join(values) for values in zip(*parts, strict=True)] if len(parts) > 1 else list(parts[0])


def _stop_times(feed: Feed, max_speed_kmh: float) -> list[Finding]:
    """Times that go back along a trip, and travel faster than `max_speed_kmh` between consecutive stops."""
    found: list[Finding] = []
    stop_times = feed.get("stop_times.txt")
    if not {"trip_id", "stop_sequence", "arrival_time", "departure_time", "stop_id"} <= set(
        stop_times.column_names
    ):
        return found
    arrival = seconds(well_formed(stop_times["arrival_time"], "time"))
    departure = seconds(well_formed(stop_times["departure_time"], "time"))
    trip = pc.dictionary_encode(pc.fill_null(stop_times["trip_id"], "")).combine_chunks().indices.to_numpy()
    sequence = numbers(stop_times["stop_sequence"], default=-1)
    order = np.lexsort((sequence, trip))
    stops = feed.get("stops.txt")
    where = {s: n for n, s in enumerate(texts(stops["stop_id"]))}
    lat, lon = numbers(feed.column("stops.txt", "stop_lat")), numbers(feed.column("stops.txt", "stop_lon"))
    stop = np.fromiter((where.get(s, -1) for s in texts(stop_times["stop_id"])), np.int64, len(trip))
    same_trip = trip[order][1:] == trip[order][:-1]
    previous, current = order[:-1][same_trip], order[1:][same_trip]
    # the last timed stop before each row of the same trip: untimed rows carry the time forward
    timed_departure = departure[previous]
    back = (arrival[current] >= 0) & (timed_departure >= 0) & (arrival[current] < timed_departure)
    for row in current[back].tolist():
        found.append(
            Finding(
                code="stop_time_with_arrival_before_previous_departure_time",
                severity="ERROR",
                file="stop_times.txt",
                row=row + 1,
                field="arrival_time",
                detail=f"trip {texts(stop_times['trip_id'].take([row]))[0]}",
            )
        )
    first = np.ones(len(order), bool)
    first[1:] = ~same_trip
    last = np.ones(len(order), bool)
    last[:-1] = ~same_trip
    untimed = (arrival[order] < 0) | (departure[order] < 0)
    trip_ids = texts(stop_times["trip_id"])
    for position in np.flatnonzero((first | last) & untimed).tolist():
        row = int(order[position])
        found.append(
            Finding(
                code="missing_trip_edge",
                severity="ERROR",
                file="stop_times.txt",
                row=row + 1,
                field="arrival_time,departure_time",
                detail=f"{'first' if first[position] else 'last'} stop of trip {trip_ids[row]} has no time",
            )
        )
    known = (stop[previous] >= 0) & (stop[current] >= 0)
    a, b = previous[known], current[known]
    metres = distance_m(lat[stop[a]], lon[stop[a]], lat[stop[b]], lon[stop[b]])
    elapsed = (arrival[b] - departure[a]).astype(np.float64)
    timed = (arrival[b] >= 0) & (departure[a] >= 0) & (elapsed >= 0)
    minutes = np.maximum(elapsed, 60.0)  # the validator rounds to whole minutes: 0 min counts as 1
    speed = metres / minutes * 3.6
    fast = timed & (speed > max_speed_kmh) & np.isfinite(speed)
    for row, kmh in zip(b[fast].tolist(), speed[fast].tolist(), strict=True):
        found.append(
            Finding(
                code="fast_travel_between_consecutive_stops",
                severity="WARNING",
                file="stop_times.txt",
                row=row + 1,
                field="arrival_time",
                detail=f"{kmh:.0f} km/h",
            )
        )
    return found


def _calendar(feed: Feed, today: date) -> list[Finding]:
    """Service days: a gap of a week or more with no service (`calendar_gap`), and service that ended before
    today (`expired_calendar`)."""
    days: set[date] = set()
    calendar = feed.get("calendar.txt")
    if calendar.num_rows and "start_date" in calendar.column_names and "end_date" in calendar.column_names:
        weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        for row in calendar.to_pylist():
            if not row.get("start_date") or not row.get("end_date"):
                continue
            day, end = parse_date(row["start_date"]), parse_date(row["end_date"])
            runs = [row.get(w) == "1" for w in weekdays]
            while day <= end:
                if runs[day.weekday()]:
                    days.add(day)
                day += timedelta(days=1)
    dates = feed.get("calendar_dates.txt")
    if dates.num_rows and "date" in dates.column_names:
        for row in dates.to_pylist():
            if row.get("exception_type") == "1" and row.get("date"):
                days.add(parse_date(row["date"]))
    found: list[Finding] = []
    ordered = sorted(days)
    for before, after in itertools.pairwise(ordered):
        if (after - before).days > 7:
            found.append(
                Finding(
                    code="calendar_gap",
                    severity="WARNING",
                    file="calendar.txt",
                    detail=f"no service from {before + timedelta(days=1)} to {after - timedelta(days=1)}",
                )
            )
    if ordered and ordered[-1] < today:
        found.append(
            Finding(
                code="expired_calendar",
                severity="WARNING",
                file="calendar.txt",
                detail=f"the last day of service is {ordered[-1]}",
            )
        )
    return found
