"""GTFS feeds (zip or folder) → the `transit.*` datasets (GTFS 静态数据接入), one adapter per file.

Each adapter reads one GTFS file of the feed (and the files it refers to), namespaces its ids by the feed
(`<feed>:<id>`: the feed is named after its zip or folder, `subway.zip` → `subway`), and converts values to
the dataset's types. A row is refused, with the canonical validator's notice code as reason
(`gtfs.<code>`), when the validator finds an ERROR located in it (`transit.validate.structure`: a missing
required field, a duplicate key, a reference to an unknown trip, stop, route or parent station) or when a
value does not read as its type (`gtfs.invalid_integer`, `invalid_float`, `invalid_time`, `invalid_date`,
`unexpected_enum_value`); the other rows land. A feed that is not a zip, or lacks the file or one of its
required columns, is refused whole (`gtfs.bad_zip`, `gtfs.missing_required_file`,
`gtfs.missing_required_column`, location empty). `gtfs.findings` lands every finding of the whole
validator, warnings included, into `transit.gtfs_findings`.

Locations are 1-based data rows of the file (the header is row 0), as in the findings; the raw record of a
row is JSON of the feed, file, row and values, which `parse_raw` reads back (references are not checked on
replay: the other files are not there; a steward who fixes a row vouches for them).

    dthub ingest -a gtfs.stops subway.zip     # then gtfs.agency, gtfs.routes, gtfs.trips, ..., gtfs.transfers

`ingest_feed` runs every adapter over one feed; they share one `FeedCheck`, so that the feed is read and
validated once (not once per file, and the structural checks of stop_times.txt not twice).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dthub.domains.transit.datasets import GTFS_FINDINGS
from dthub.domains.transit.gtfs import (
    FORMATS,
    SPECS,
    WEEKDAYS,
    Feed,
    feed_bytes,
    feed_name_of,
    read_feed_bytes,
    seconds,
)
from dthub.domains.transit.validate import Finding, structure, validate
from dthub.hub.adapter import LOCATION, LocationUnit, Parsed, Rejected

if TYPE_CHECKING:
    from dthub.hub.core import Hub
    from dthub.hub.ingest import BatchResult

Kind = Literal["id", "key", "text", "int", "float", "time", "date", "flag"]
"""`id`: namespaced by the feed, empty stays empty; `key`: namespaced, empty is `<feed>:` (agency_id, which
a feed of one agency may leave blank)."""

PATTERNS: dict[Kind, tuple[str, str]] = {
    "int": (r"^[+-]?\d+$", "invalid_integer"),
    "float": (r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", "invalid_float"),
    "time": (r"^\d{1,3}:[0-5]\d:[0-5]\d$", "invalid_time"),
    "date": (r"^\d{8}$", "invalid_date"),
    "flag": (r"^[01]$", "unexpected_enum_value"),
}
"""What a value of each kind must look like, and the notice code when it does not."""

STRUCTURAL = frozenset(
    {"missing_required_field", "duplicate_key", "foreign_key_violation", *(c for _, c in FORMATS.values())}
)
"""Codes of the row-located ERRORs of `transit.validate.structure`, those that refuse a row."""


class FeedCheck:
    """One feed's bytes read (`feed`) and validated (`findings`) once, on first use, for all the adapters of
    one `ingest_feed`: alone, each adapter reads the files it needs and runs the structural checks of its
    file, and the findings adapter reads and checks the whole feed again. Nothing is read while every batch
    of a feed ingested before is skipped."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self._findings: dict[date | None, list[Finding]] = {}

    @cached_property
    def feed(self) -> Feed:
        """The whole feed; `zipfile.BadZipFile` (each time) if it is not a zip."""
        return read_feed_bytes(self.data, name=self.name)

    def findings(self, today: date | None = None) -> list[Finding]:
        """`transit.validate.validate` of the feed (`today` decides expired service)."""
        if today not in self._findings:
            self._findings[today] = validate(self.feed, today=today)
        return self._findings[today]

    def structural(self, file: str) -> list[Finding]:
        """The findings of `structure(feed, files=(file,))`, in its order, out of `findings`."""
        return [f for f in self.findings() if f.file == file and f.code in STRUCTURAL]


TYPES: dict[Kind, pa.DataType] = {
    "id": pa.string(),
    "key": pa.string(),
    "text": pa.string(),
    "int": pa.int32(),
    "float": pa.float64(),
    "time": pa.int32(),
    "date": pa.date32(),
    "flag": pa.bool_(),
}


@dataclass(frozen=True)
class Column:
    """A dataset column read from GTFS column `source` as `kind`; an `id` is namespaced by the feed."""

    name: str
    source: str
    kind: Kind


@dataclass(frozen=True)
class GtfsFile:
    """Base of the adapters: one GTFS file → one dataset. `feed` names the feed (set per source by
    `for_source`; `gtfs` when parsed without one); `check`, when given, is the feed of the bytes parsed,
    read and validated once for several adapters (`ingest_feed`)."""

    feed: str | None = None
    check: FeedCheck | None = field(default=None, compare=False, repr=False)

    name: ClassVar[str]
    dataset: ClassVar[str]
    file: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    location_unit: ClassVar[LocationUnit] = "record"
    with_feed: ClassVar[bool] = True
    """Whether the dataset has a `feed` column."""

    @property
    def feed_name(self) -> str:
        return self.feed or "gtfs"

    def for_source(self, path: Path) -> tuple[Self, bytes]:
        """This adapter for the feed at `path` (a zip or a folder) and the feed's bytes."""
        return replace(self, feed=feed_name_of(path)), feed_bytes(path)

    def needs(self) -> tuple[str, ...]:
        """Files to read: this one and those its references point to."""
        return (self.file, *(reference.to for reference in SPECS[self.file].references))

    def parse(self, data: bytes) -> Parsed:
        try:
            if self.check is not None:
                feed = self.check.feed
            else:
                feed = read_feed_bytes(data, name=self.feed_name, files=self.needs())
        except zipfile.BadZipFile as error:
            return self._refuse_whole("gtfs.bad_zip", str(error))
        if not feed.has(self.file):
            if SPECS[self.file].required:
                return self._refuse_whole("gtfs.missing_required_file", f"the feed has no {self.file}")
            return Parsed(rows=self._empty())
        return self._parse_feed(feed, checked=self.check)

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        if self.check is not None:
            table = self.check.feed.get(self.file)
        else:
            table = read_feed_bytes(data, name=self.feed_name, files=(self.file,)).get(self.file)
        return [self._raw(self.feed_name, table, row - 1, row) for row in locations]

    def parse_raw(self, raw: str) -> Parsed:
        try:
            record = json.loads(raw)
            values: dict[str, str] = record["values"]
            table = pa.table({k: pa.array([v], pa.string()) for k, v in values.items()})
            feed = Feed(str(record["feed"]), {str(record["file"]): table})
            row = int(record["row"])
        except (ValueError, KeyError, TypeError) as error:
            rejected = Rejected(reason="gtfs.bad_record", detail=repr(error), location=None, raw=raw)
            return Parsed(rows=self._empty(), rejected=(rejected,))
        return self._parse_feed(feed, first_row=row)

    def _parse_feed(self, feed: Feed, *, first_row: int = 1, checked: FeedCheck | None = None) -> Parsed:
        table = feed.get(self.file)
        missing = [c for c in SPECS[self.file].columns if c not in table.column_names]
        if missing:
            return self._refuse_whole(
                "gtfs.missing_required_column", f"{self.file} lacks {', '.join(missing)}"
            )
        reasons: dict[int, tuple[str, str]] = {}
        found = checked.structural(self.file) if checked else structure(feed, files=(self.file,))
        for finding in found:
            if finding.severity == "ERROR" and finding.row is not None:
                detail = (
                    f"{finding.field}: {finding.detail}" if finding.detail else f"{finding.field} is empty"
                )
                reasons.setdefault(finding.row - 1, (f"gtfs.{finding.code}", detail))
        converted: dict[str, pa.Array] = {}
        for column in self.columns:
            values, bad = convert(table, column, feed.name)
            converted[column.name] = values
            for row in np.flatnonzero(bad).tolist():
                code = PATTERNS[column.kind][1]
                text = table[column.source][row].as_py()
                reasons.setdefault(row, (f"gtfs.{code}", f"{column.source}: {text!r}"))
        rows = pa.table(converted).append_column(
            LOCATION, pa.array(np.arange(first_row, first_row + table.num_rows), pa.int64())
        )
        if self.with_feed:
            rows = rows.append_column("feed", pa.array([feed.name] * table.num_rows, pa.string()))
        refused = sorted(reasons)
        if refused:
            keep = np.ones(table.num_rows, bool)
            keep[refused] = False
            rows = rows.filter(pa.array(keep))
        rejected = tuple(
            Rejected(
                reason=reasons[row][0],
                detail=reasons[row][1],
                location=row + first_row,
                raw=self._raw(feed.name, table, row, row + first_row),
            )
            for row in refused
        )
        return Parsed(rows=rows, rejected=rejected)

    def _empty(self) -> pa.Table:
        fields = [pa.field(c.name, TYPES[c.kind]) for c in self.columns]
        if self.with_feed:
            fields.append(pa.field("feed", pa.string()))
        return pa.schema([*fields, pa.field(LOCATION, pa.int64())]).empty_table()

    def _refuse_whole(self, reason: str, detail: str) -> Parsed:
        return Parsed(
            rows=self._empty(), rejected=(Rejected(reason=reason, detail=detail, location=None, raw=""),)
        )

    def _raw(self, feed: str, table: pa.Table, index: int, location: int) -> str:
        values = {k: v for k, v in table.slice(index, 1).to_pylist()[0].items() if v is not None}
        record = {"feed": feed, "file": self.file, "row": location, "values": values}
        return json.dumps(record, ensure_ascii=False)


def convert(
    table: pa.Table, column: Column, feed: str
) -> tuple[pa.Array, np.ndarray[Any, np.dtype[np.bool_]]]:
    """A GTFS column as the dataset's type, and where a value is present but unreadable (those become
    null)."""
    if column.source in table.column_names:
        text = table[column.source].combine_chunks()
    else:
        text = pa.nulls(table.num_rows, pa.string())
    if column.kind == "id":
        return pc.binary_join_element_wise(pa.scalar(feed), text, ":"), np.zeros(table.num_rows, bool)
    if column.kind == "key":
        filled = pc.fill_null(text, "")
        return pc.binary_join_element_wise(pa.scalar(feed), filled, ":"), np.zeros(table.num_rows, bool)
    if column.kind == "text":
        return text, np.zeros(table.num_rows, bool)
    pattern = PATTERNS[column.kind][0]
    good = pc.fill_null(pc.match_substring_regex(text, pattern), True)
    bad = ~np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)
    clean = pc.if_else(good, text, pa.scalar(None, pa.string()))
    if column.kind == "int":
        return pc.cast(clean, pa.int32()), bad
    if column.kind == "float":
        return pc.cast(clean, pa.float64()), bad
    if column.kind == "flag":
        return pc.equal(clean, "1"), bad
    if column.kind == "time":
        values = seconds(clean)
        return pa.array(values, pa.int32(), mask=values < 0), bad
    days = pc.strptime(clean, format="%Y%m%d", unit="s", error_is_null=True)
    unreadable = np.asarray(
        pc.and_(pc.is_null(days), pc.is_valid(clean)).to_numpy(zero_copy_only=False), bool
    )
    return pc.cast(days, pa.date32()), bad | unreadable


class GtfsStops(GtfsFile):
    """stops.txt → `transit.stops`."""

    name: ClassVar[str] = "gtfs.stops"
    dataset: ClassVar[str] = "transit.stops"
    file: ClassVar[str] = "stops.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("stop_id", "stop_id", "id"),
        Column("stop_name", "stop_name", "text"),
        Column("stop_lat", "stop_lat", "float"),
        Column("stop_lon", "stop_lon", "float"),
        Column("parent_station", "parent_station", "id"),
        Column("location_type", "location_type", "int"),
    )


class GtfsRoutes(GtfsFile):
    """routes.txt → `transit.routes`."""

    name: ClassVar[str] = "gtfs.routes"
    dataset: ClassVar[str] = "transit.routes"
    file: ClassVar[str] = "routes.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("route_id", "route_id", "id"),
        Column("route_short_name", "route_short_name", "text"),
        Column("route_long_name", "route_long_name", "text"),
        Column("route_type", "route_type", "int"),
        Column("agency_id", "agency_id", "text"),
    )


class GtfsTrips(GtfsFile):
    """trips.txt → `transit.trips`."""

    name: ClassVar[str] = "gtfs.trips"
    dataset: ClassVar[str] = "transit.trips"
    file: ClassVar[str] = "trips.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("trip_id", "trip_id", "id"),
        Column("route_id", "route_id", "id"),
        Column("service_id", "service_id", "id"),
        Column("trip_headsign", "trip_headsign", "text"),
        Column("direction_id", "direction_id", "int"),
        Column("shape_id", "shape_id", "id"),
    )


class GtfsStopTimes(GtfsFile):
    """stop_times.txt → `transit.stop_times`; blank times stay empty (the timetable interpolates them)."""

    name: ClassVar[str] = "gtfs.stop_times"
    dataset: ClassVar[str] = "transit.stop_times"
    file: ClassVar[str] = "stop_times.txt"
    with_feed: ClassVar[bool] = False
    columns: ClassVar[tuple[Column, ...]] = (
        Column("trip_id", "trip_id", "id"),
        Column("stop_sequence", "stop_sequence", "int"),
        Column("stop_id", "stop_id", "id"),
        Column("arrival_s", "arrival_time", "time"),
        Column("departure_s", "departure_time", "time"),
        Column("shape_dist_traveled", "shape_dist_traveled", "float"),
        Column("timepoint", "timepoint", "int"),
    )


class GtfsCalendar(GtfsFile):
    """calendar.txt → `transit.calendar`."""

    name: ClassVar[str] = "gtfs.calendar"
    dataset: ClassVar[str] = "transit.calendar"
    file: ClassVar[str] = "calendar.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("service_id", "service_id", "id"),
        *(Column(day, day, "flag") for day in WEEKDAYS),
        Column("start_date", "start_date", "date"),
        Column("end_date", "end_date", "date"),
    )


class GtfsCalendarDates(GtfsFile):
    """calendar_dates.txt → `transit.calendar_dates`."""

    name: ClassVar[str] = "gtfs.calendar_dates"
    dataset: ClassVar[str] = "transit.calendar_dates"
    file: ClassVar[str] = "calendar_dates.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("service_id", "service_id", "id"),
        Column("date", "date", "date"),
        Column("exception_type", "exception_type", "int"),
    )


class GtfsAgency(GtfsFile):
    """agency.txt → `transit.agencies`: the operators and the feed's time zone (an unknown zone is refused,
    `rule.timezone_known`)."""

    name: ClassVar[str] = "gtfs.agency"
    dataset: ClassVar[str] = "transit.agencies"
    file: ClassVar[str] = "agency.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("agency_id", "agency_id", "key"),
        Column("name", "agency_name", "text"),
        Column("url", "agency_url", "text"),
        Column("timezone", "agency_timezone", "text"),
        Column("lang", "agency_lang", "text"),
        Column("phone", "agency_phone", "text"),
    )


class GtfsTransfers(GtfsFile):
    """transfers.txt → `transit.transfers`. A transfer from or to a stop the feed lacks is refused
    (`gtfs.foreign_key_violation`), as is a transfer_type that is not an integer (`gtfs.invalid_integer`) or
    not 0-5 (`rule.transfer_type_in_range`)."""

    name: ClassVar[str] = "gtfs.transfers"
    dataset: ClassVar[str] = "transit.transfers"
    file: ClassVar[str] = "transfers.txt"
    columns: ClassVar[tuple[Column, ...]] = (
        Column("from_stop_id", "from_stop_id", "id"),
        Column("to_stop_id", "to_stop_id", "id"),
        Column("from_route_id", "from_route_id", "id"),
        Column("to_route_id", "to_route_id", "id"),
        Column("from_trip_id", "from_trip_id", "id"),
        Column("to_trip_id", "to_trip_id", "id"),
        Column("transfer_type", "transfer_type", "int"),
        Column("min_transfer_time", "min_transfer_time", "int"),
    )


@dataclass(frozen=True)
class GtfsFindings:
    """The whole feed → `transit.gtfs_findings`: every finding of `transit.validate.validate`, located.
    `today` decides expired service (default: the date of the ingest)."""

    feed: str | None = None
    today: date | None = None
    check: FeedCheck | None = field(default=None, compare=False, repr=False)

    name: ClassVar[str] = "gtfs.findings"
    dataset: ClassVar[str] = "transit.gtfs_findings"
    location_unit: ClassVar[LocationUnit] = "record"

    def for_source(self, path: Path) -> tuple[Self, bytes]:
        return replace(self, feed=feed_name_of(path)), feed_bytes(path)

    def parse(self, data: bytes) -> Parsed:
        return Parsed(rows=_findings_table(self._records(data)))

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        records = self._records(data)
        return [json.dumps(records[n], ensure_ascii=False) for n in locations]

    def parse_raw(self, raw: str) -> Parsed:
        try:
            record = json.loads(raw)
            table = _findings_table([record])
        except (ValueError, KeyError, TypeError, pa.ArrowException) as error:
            rejected = Rejected(reason="gtfs.bad_record", detail=repr(error), location=None, raw=raw)
            return Parsed(rows=_findings_table([]), rejected=(rejected,))
        return Parsed(rows=table)

    def _records(self, data: bytes) -> list[dict[str, Any]]:
        version = hashlib.sha256(data).hexdigest()[:16]
        name = self.feed or "gtfs"
        findings: list[dict[str, Any]]
        try:
            if self.check is not None:
                found = self.check.findings(self.today)
            else:
                found = validate(read_feed_bytes(data, name=name), today=self.today)
        except zipfile.BadZipFile as error:
            findings = [
                {"code": "invalid_zip", "severity": "ERROR", "file": "", "detail": f"not a zip: {error}"}
            ]
        else:
            findings = [
                {
                    "code": f.code,
                    "severity": f.severity,
                    "file": f.file,
                    "row": f.row,
                    "field": f.field,
                    "detail": f.detail,
                }
                for f in found
            ]
        return [{"feed": name, "feed_version": version, "number": n, **f} for n, f in enumerate(findings)]


def _findings_table(records: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema([field.with_nullable(True) for field in GTFS_FINDINGS.schema])
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in records], schema=schema)
    numbers = pa.array([int(r["number"]) for r in records], pa.int64())
    return table.append_column(LOCATION, numbers)


ADAPTERS = (
    GtfsAgency(),
    GtfsStops(),
    GtfsRoutes(),
    GtfsTrips(),
    GtfsStopTimes(),
    GtfsCalendar(),
    GtfsCalendarDates(),
    GtfsTransfers(),
    GtfsFindings(),
)
"""Every GTFS adapter, in the order `ingest_feed` runs them."""


def ingest_feed(hub: Hub, path: Path, *, feed: str | None = None) -> list[BatchResult]:
    """Land a GTFS feed (zip or folder) into every `transit.*` dataset through the hub's ingest path;
    one batch per dataset. `feed` names it (default: after the path)."""
    from dthub.hub.ingest import ingest_bytes

    data = feed_bytes(path)
    name = feed or feed_name_of(path)
    check = FeedCheck(data, name)
    return [
        ingest_bytes(hub, replace(adapter, feed=name, check=check), data, source=str(path))
        for adapter in ADAPTERS
    ]
