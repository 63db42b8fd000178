"""Caltrans PeMS "Station 5-Minute" text files (检测器五分钟数据).

One line per station and 5-minute interval: timestamp (local time, MM/DD/YYYY HH24:MI:SS), station,
district, freeway, direction, lane type, station length, then samples, % observed, total flow, mean
occupancy and mean speed (mph) for the station, then samples, flow, occupancy, speed and observed flag for
each of up to 8 lanes: 52 fields. Files from the PeMS clearinghouse have no header; copies that start with
the header line `Timestamp,Station,...` are read too.

Records are refused, with their line, as `pems.wrong_column_count`, `pems.bad_timestamp` or
`pems.bad_number`; blank lines are skipped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from dthub.domains.roads.datasets import MAX_LANES
from dthub.hub.adapter import LOCATION, LineText, Parsed, Rejected, text_lines

MPH_TO_KMH = 1.609344
TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
STATION_FIELDS = ("timestamp", "station", "district", "freeway", "direction", "lane_type", "length")
MEASURES = ("samples", "observed_pct", "total_flow", "avg_occupancy", "avg_speed")
LANE_MEASURES = ("samples", "flow", "occupancy", "speed", "observed")
FIELDS: tuple[str, ...] = (
    *STATION_FIELDS,
    *MEASURES,
    *(f"lane{lane}_{m}" for lane in range(1, MAX_LANES + 1) for m in LANE_MEASURES),
)
"""The 52 fields of a line, in file order."""

HEADER_START = b"Timestamp,Station,"
_INTEGER = r"^[+-]?\d+$"
_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


@dataclass(frozen=True, kw_only=True)
class Lines:
    """The fields of a file as text, with the 1-based line of each row and the refused lines."""

    fields: pa.Table
    line: np.ndarray
    rejected: list[Rejected]
    blank: int


def read_lines(data: bytes) -> Lines:
    """Split a station 5-minute file into 52 text fields per line; wrong field counts are refused."""
    header = 1 if data.startswith(HEADER_START) else 0
    body = data.partition(b"\n")[2] if header else data
    if not body.strip():
        empty = pa.table({name: pa.array([], pa.string()) for name in FIELDS})
        return Lines(fields=empty, line=np.array([], dtype=np.int64), rejected=[], blank=0)
    invalid: list[pcsv.InvalidRow] = []

    def keep_invalid(row: pcsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        invalid.clear()
        return pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(
                column_names=list(FIELDS), skip_rows=header, use_threads=use_threads
            ),
            parse_options=pcsv.ParseOptions(invalid_row_handler=keep_invalid, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(FIELDS, pa.string()), strings_can_be_null=True
            ),
        )

    fields = read(use_threads=True)
    if invalid:  # only a single-threaded read numbers the refused lines
        fields = read(use_threads=False)
    refused = {row.number: row for row in invalid if row.text.strip()}
    skipped = [row.number for row in invalid]
    total = fields.num_rows + len(skipped)
    # InvalidRow.number is the physical line (1-based, the header included)
    line = np.setdiff1d(np.arange(header + 1, header + total + 1), np.array(skipped, dtype=np.int64))
    blank = len(invalid) - len(refused)
    if fields["timestamp"].null_count:  # a blank line reads as a row of empty fields
        has_data = functools.reduce(pc.or_, (pc.is_valid(fields[name]) for name in FIELDS))
        keep = has_data.to_numpy(zero_copy_only=False)
        blank += int((~keep).sum())
        fields, line = fields.filter(has_data), line[keep]
    rejected = [
        Rejected(
            reason="pems.wrong_column_count",
            detail=f"expected {row.expected_columns} fields, found {row.actual_columns}",
            location=number,
            raw=row.text,
        )
        for number, row in refused.items()
    ]
    return Lines(fields=fields, line=line, rejected=rejected, blank=blank)


@dataclass
class _Typed:
    """Typed columns built from text fields, collecting the rows that fail conversion."""

    lines: Lines
    bad: np.ndarray = field(init=False)
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bad = np.zeros(self.lines.fields.num_rows, dtype=bool)

    def number(self, name: str, type_: pa.DataType, *, scale: float | None = None) -> pa.Array:
        text = self.lines.fields[name]
        try:
            values = pc.cast(text, type_)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pattern = _INTEGER if pa.types.is_integer(type_) else _DECIMAL
            ok = pc.or_kleene(pc.is_null(text), pc.match_substring_regex(text, pattern))
            ok_np = ok.to_numpy(zero_copy_only=False)
            for index in np.flatnonzero(~ok_np):
                self._refuse(int(index), "pems.bad_number", f"{name}: {text[int(index)]} is not a number")
            values = pc.cast(pc.if_else(ok, text, None), type_)
        return pc.multiply(values, scale) if scale is not None else values

    def flag(self, name: str) -> pa.Array:
        return pc.cast(self.number(name, pa.int8()), pa.bool_())

    def timestamp(self, name: str, timezone: str) -> pa.Array:
        text = self.lines.fields[name]
        # a file holds few distinct times (288 a day): parse each once
        encoded = pc.dictionary_encode(text).combine_chunks()
        parsed = pc.strptime(encoded.dictionary, format=TIMESTAMP_FORMAT, unit="us", error_is_null=True)
        local = pc.take(parsed, encoded.indices)
        unparsed = pc.and_(pc.is_valid(text), pc.is_null(local)).to_numpy(zero_copy_only=False)
        for index in np.flatnonzero(unparsed):
            self._refuse(
                int(index),
                "pems.bad_timestamp",
                f"{name}: {text[int(index)]} is not {TIMESTAMP_FORMAT}",
            )
        aware = pc.assume_timezone(local, timezone=timezone, ambiguous="earliest", nonexistent="earliest")
        return pc.cast(aware, pa.timestamp("us", tz="UTC"))

    def _refuse(self, index: int, reason: str, detail: str) -> None:
        if not self.bad[index]:
            self.bad[index] = True
            self.reasons[index] = (reason, detail)

    def parsed(self, data: bytes, columns: dict[str, pa.Array]) -> Parsed:
        rows = pa.table({**columns, LOCATION: pa.array(self.lines.line, pa.int64())})
        rejected = list(self.lines.rejected)
        if self.bad.any():
            bad_index = np.flatnonzero(self.bad)
            raws = text_lines(data, [int(self.lines.line[i]) for i in bad_index])
            rejected += [
                Rejected(
                    reason=self.reasons[int(i)][0],
                    detail=self.reasons[int(i)][1],
                    location=int(self.lines.line[i]),
                    raw=raw,
                )
                for i, raw in zip(bad_index, raws, strict=True)
            ]
            rows = rows.filter(pa.array(~self.bad))
        rejected.sort(key=lambda r: r.location or 0)
        return Parsed(rows=rows, rejected=tuple(rejected), skipped=self.lines.blank)


class _PemsText(LineText):
    """What both PeMS adapters share: lines of text in a local time zone."""

    def __init__(self, timezone: str = "America/Los_Angeles") -> None:
        self.timezone = timezone
        """Zone of the local timestamps (Caltrans districts: America/Los_Angeles)."""


class PemsStation5Min(_PemsText):
    """PeMS station 5-minute file → `roads.detector_observations`."""

    name: ClassVar[str] = "pems.station_5min"
    dataset: ClassVar[str] = "roads.detector_observations"

    def parse(self, data: bytes) -> Parsed:
        typed = _Typed(read_lines(data))
        columns: dict[str, pa.Array] = {
            "station_id": typed.number("station", pa.int32()),
            "observed_at": typed.timestamp("timestamp", self.timezone),
            "samples": typed.number("samples", pa.int32()),
            "observed_pct": typed.number("observed_pct", pa.float64()),
            "total_flow": typed.number("total_flow", pa.int32()),
            "avg_occupancy": typed.number("avg_occupancy", pa.float64()),
            "avg_speed_kmh": typed.number("avg_speed", pa.float64(), scale=MPH_TO_KMH),
        }
        for lane in range(1, MAX_LANES + 1):
            prefix = f"lane{lane}_"
            columns |= {
                f"{prefix}samples": typed.number(f"{prefix}samples", pa.int32()),
                f"{prefix}flow": typed.number(f"{prefix}flow", pa.int32()),
                f"{prefix}occupancy": typed.number(f"{prefix}occupancy", pa.float64()),
                f"{prefix}speed_kmh": typed.number(f"{prefix}speed", pa.float64(), scale=MPH_TO_KMH),
                f"{prefix}observed": typed.flag(f"{prefix}observed"),
            }
        return typed.parsed(data, columns)


class PemsStations(_PemsText):
    """PeMS station 5-minute file → `roads.detector_stations` (one row per station, first line)."""

    name: ClassVar[str] = "pems.stations"
    dataset: ClassVar[str] = "roads.detector_stations"

    def parse(self, data: bytes) -> Parsed:
        typed = _Typed(read_lines(data))
        columns: dict[str, pa.Array] = {
            "station_id": typed.number("station", pa.int32()),
            "district": typed.number("district", pa.int16()),
            "freeway": typed.number("freeway", pa.int16()),
            "direction": typed.lines.fields["direction"],
            "lane_type": typed.lines.fields["lane_type"],
            "length_mi": typed.number("length", pa.float64()),
            "first_seen_at": typed.timestamp("timestamp", self.timezone),
        }
        return typed.parsed(data, columns)
