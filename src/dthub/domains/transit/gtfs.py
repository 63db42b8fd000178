"""GTFS static feeds (GTFS Schedule): what the files are, as data, and reading a feed zip or folder.

`FILES` declares each file the hub reads: whether a feed must have it, its required columns, its primary
key and its references to other files (the spirit of partridge's `config.py`). Validation
(`transit.validate`) and the timetable (`transit.timetable`) read these declarations instead of branching
on file names. Values are read as text: column names and values are stripped of BOMs and surrounding
spaces (the MTA feeds write ` 40.7` for coordinates), then converted where a module needs numbers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

NO_TIME = -1
"""Seconds value of an empty or unreadable GTFS time."""


FORMATS: dict[str, tuple[str, str]] = {
    "integer": (r"^[+-]?\d+$", "invalid_integer"),
    "float": (r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", "invalid_float"),
    "time": (r"^\d{1,3}:[0-5]\d:[0-5]\d$", "invalid_time"),
    "date": (r"^\d{8}$", "invalid_date"),
    "flag": (r"^[01]$", "unexpected_enum_value"),
}
"""What a value of each type must look like, and the validator's notice code when it does not."""


@dataclass(frozen=True, kw_only=True)
class Reference:
    """Values of `columns` must be values of `key` in file `to` (a foreign key)."""

    columns: tuple[str, ...]
    to: str
    key: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FileSpec:
    """One GTFS file as the hub reads it."""

    name: str
    required: bool
    columns: tuple[str, ...]
    """Columns every row must have a value in."""
    key: tuple[str, ...] = ()
    """Columns that identify a row; empty: no key."""
    references: tuple[Reference, ...] = field(default=())


FILES: tuple[FileSpec, ...] = (
    FileSpec(name="agency.txt", required=True, columns=("agency_name", "agency_url", "agency_timezone")),
    FileSpec(
        name="stops.txt",
        required=True,
        columns=("stop_id",),
        key=("stop_id",),
        references=(Reference(columns=("parent_station",), to="stops.txt", key=("stop_id",)),),
    ),
    FileSpec(name="routes.txt", required=True, columns=("route_id", "route_type"), key=("route_id",)),
    FileSpec(
        name="trips.txt",
        required=True,
        columns=("route_id", "service_id", "trip_id"),
        key=("trip_id",),
        references=(Reference(columns=("route_id",), to="routes.txt", key=("route_id",)),),
    ),
    FileSpec(
        name="stop_times.txt",
        required=True,
        columns=("trip_id", "stop_id", "stop_sequence"),
        key=("trip_id", "stop_sequence"),
        references=(
            Reference(columns=("trip_id",), to="trips.txt", key=("trip_id",)),
            Reference(columns=("stop_id",), to="stops.txt", key=("stop_id",)),
        ),
    ),
    FileSpec(
        name="calendar.txt",
        required=False,
        columns=(
            "service_id",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
            "start_date",
            "end_date",
        ),
        key=("service_id",),
    ),
    FileSpec(
        name="calendar_dates.txt",
        required=False,
        columns=("service_id", "date", "exception_type"),
        key=("service_id", "date"),
    ),
    FileSpec(
        name="transfers.txt",
        required=False,
        columns=("from_stop_id", "to_stop_id", "transfer_type"),
        references=(
            Reference(columns=("from_stop_id",), to="stops.txt", key=("stop_id",)),
            Reference(columns=("to_stop_id",), to="stops.txt", key=("stop_id",)),
        ),
    ),
    FileSpec(name="shapes.txt", required=False, columns=("shape_id", "shape_pt_lat", "shape_pt_lon")),
    FileSpec(name="feed_info.txt", required=False, columns=("feed_publisher_name", "feed_lang")),
)
SPECS: Mapping[str, FileSpec] = {spec.name: spec for spec in FILES}

SERVICE_FILES = ("calendar.txt", "calendar_dates.txt")
"""A feed needs at least one of these to say on which days its trips run."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

ROUTE_TYPE_MODE = {
    0: "TRAM",
    1: "SUBWAY",
    2: "RAIL",
    3: "BUS",
    4: "FERRY",
    5: "CABLE_CAR",
    6: "GONDOLA",
    7: "FUNICULAR",
    11: "TROLLEYBUS",
    12: "MONORAIL",
}
"""GTFS `route_type` → OpenTripPlanner mode; extended types (7xx bus, 4xx metro ...) by their hundreds."""

EXTENDED_ROUTE_TYPE_MODE = {
    1: "RAIL",
    2: "COACH",
    4: "SUBWAY",
    7: "BUS",
    9: "TRAM",
    10: "FERRY",
    13: "GONDOLA",
}


def route_mode(route_type: int) -> str:
    """OpenTripPlanner mode of a GTFS (or extended) route type; unknown types are `TRANSIT`."""
    if route_type in ROUTE_TYPE_MODE:
        return ROUTE_TYPE_MODE[route_type]
    return EXTENDED_ROUTE_TYPE_MODE.get(route_type // 100, "TRANSIT")


@dataclass(frozen=True)
class Feed:
    """The files of one GTFS feed, every column as stripped text; `name` namespaces ids: `<name>:<id>`."""

    name: str
    tables: Mapping[str, pa.Table]

    def has(self, file: str) -> bool:
        return file in self.tables

    def get(self, file: str) -> pa.Table:
        """The file's rows; an empty table when the feed lacks it."""
        return self.tables.get(file, pa.table({}))

    def column(self, file: str, name: str) -> pa.ChunkedArray:
        """A column of a file; all empty when the file lacks it."""
        table = self.get(file)
        if name in table.column_names:
            return table[name]
        return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])


def read_feed(path: Path, *, name: str | None = None, files: Collection[str] | None = None) -> Feed:
    """Read a GTFS zip (files at its root or in one folder) or folder; the feed is named after the path.
    `files` limits the files read (default: every `.txt`)."""
    feed_name = name or feed_name_of(path)
    if path.is_dir():
        sources = {
            file.name: file.read_bytes()
            for file in sorted(path.glob("*.txt"))
            if files is None or file.name in files
        }
        return Feed(feed_name, {file: read_table(data) for file, data in sources.items()})
    return read_feed_bytes(path.read_bytes(), name=feed_name, files=files)


def feed_name_of(path: Path) -> str:
    """The name a feed takes from its zip or folder: `subway.zip` → `subway`."""
    return path.name.removesuffix(".zip")


def read_feed_bytes(data: bytes, *, name: str, files: Collection[str] | None = None) -> Feed:
    """A GTFS zip given as bytes (see `read_feed`); `zipfile.BadZipFile` if it is not a zip."""
    sources: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if base.endswith(".txt") and not base.startswith(".") and (files is None or base in files):
                sources[base] = archive.read(info)
    return Feed(name, {file: read_table(data) for file, data in sources.items()})


def feed_bytes(path: Path) -> bytes:
    """A feed's bytes: a zip as it is, a folder packed into a zip of its `.txt` files (sorted, with fixed
    timestamps, so that the same files always give the same bytes and checksum)."""
    if not path.is_dir():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.glob("*.txt")):
            info = zipfile.ZipInfo(file.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    return buffer.getvalue()


def read_table(data: bytes) -> pa.Table:
    """One GTFS file's bytes as a table of stripped text (no BOM, no surrounding spaces; empty is null)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        return pa.table({})
    header = data.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    names = [column.strip().strip('"').strip() for column in header.split(",")]
    options = pcsv.ConvertOptions(
        column_types={raw: pa.string() for raw in names}, strings_can_be_null=False, null_values=[]
    )
    read = pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24)
    table = pcsv.read_csv(io.BytesIO(data), read_options=read, convert_options=options)
    columns = {}
    for column_name in table.column_names:
        values = pc.utf8_trim_whitespace(table[column_name])
        columns[column_name] = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    return pa.table(columns)


def malformed(values: pa.ChunkedArray | pa.Array, kind: str) -> npt.NDArray[np.int64]:
    """Rows whose value is present but does not read as `kind` (a key of `FORMATS`)."""
    good = pc.fill_null(pc.match_substring_regex(values, FORMATS[kind][0]), True)
    return np.flatnonzero(~np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool))


def well_formed(values: pa.ChunkedArray | pa.Array, kind: str) -> pa.ChunkedArray | pa.Array:
    """The values that read as `kind`; the others null."""
    good = pc.fill_null(pc.match_substring_regex(values, FORMATS[kind][0]), True)
    return pc.if_else(good, values, pa.scalar(None, pa.string()))


def seconds(times: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int32]:
    """GTFS times `H:MM:SS` (hours may pass 24) as seconds after midnight; empty → `NO_TIME`."""
    parts = pc.split_pattern(pc.fill_null(times, "::"), ":")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(parts)
    numbers = pc.cast(pc.if_else(pc.equal(flat, ""), "-1", flat), pa.int32(), safe=False)
    values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.int64)
    if not (lengths == 3).all():
        raise ValueError("a time is not H:MM:SS")
    h, m, s = values[0::3], values[1::3], values[2::3]
    result = h * 3600 + m * 60 + s
    result[(h < 0) | (m < 0) | (s < 0)] = NO_TIME
    return result.astype(np.int32)


def numbers(column: pa.ChunkedArray | pa.Array, *, default: float = np.nan) -> npt.NDArray[np.float64]:
    """A text column as floats; empty → `default`."""
    filled = pc.fill_null(well_formed(column, "float"), str(default))
    return np.asarray(pc.cast(filled, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def parse_date(text: str) -> date:
    """A GTFS date, `YYYYMMDD`."""
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def texts(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.object_]:
    """A text column as a numpy array of str (empty → '')."""
    return np.asarray(pc.fill_null(column, "").to_numpy(zero_copy_only=False), dtype=object)
