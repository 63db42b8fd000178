"""Source adapters (接入适配器): one per source format, parsing bytes into typed rows of one dataset.

An adapter never writes storage. It returns the rows it could parse, with the location of each in the
source, and a `Rejected` entry, with reason and raw text, for each record it could not. The hub validates
what it returns, lands the good rows, and quarantines the rest (`hub.ingest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import pyarrow as pa

LOCATION = "_location"
"""Column an adapter adds to its rows: where each row is in the source (line or byte offset)."""

LocationUnit = Literal["line", "offset", "record"]


class IngestError(Exception):
    """A record the hub refuses; `reason` is a stable key the console translates."""

    def __init__(self, reason: str, detail: str, raw: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.raw = reason, detail, raw

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, detail={self.detail!r})"


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """A record of the source that could not be parsed."""

    reason: str
    detail: str
    location: int | None
    raw: str


@dataclass(frozen=True, kw_only=True)
class Parsed:
    """What an adapter made of a source: typed rows (with `_location`) and rejected records."""

    rows: pa.Table
    rejected: tuple[Rejected, ...] = ()
    skipped: int = 0
    """Records that carry no data (blank lines) and are neither rows nor rejected."""


class Adapter(Protocol):
    """Parses one source format into rows of one dataset."""

    name: ClassVar[str]
    """Stable key, `<source>.<format>`, e.g. `pems.station_5min`."""
    dataset: ClassVar[str]
    """Id of the dataset the rows belong to."""
    location_unit: ClassVar[LocationUnit]

    def parse(self, data: bytes) -> Parsed:
        """Parse a whole source."""
        ...

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        """The raw text of the records at `locations`, for quarantine."""
        ...

    def parse_raw(self, raw: str) -> Parsed:
        """Parse one raw record as it is kept in quarantine (a steward may have fixed it)."""
        ...


class LineText:
    """Base of adapters whose records are lines of text: locations are 1-based line numbers, the raw text
    of a record is its line, and a record replays by parsing its line alone. Subclasses write `parse`."""

    location_unit: ClassVar[LocationUnit] = "line"

    def parse(self, data: bytes) -> Parsed:
        raise NotImplementedError

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        return text_lines(data, locations)

    def parse_raw(self, raw: str) -> Parsed:
        return self.parse(raw.encode())


def text_lines(data: bytes, line_numbers: Sequence[int]) -> list[str]:
    """Lines of a text source by 1-based number, decoded as UTF-8 with replacement, line end stripped."""
    lines = data.split(b"\n")
    return [lines[n - 1].rstrip(b"\r").decode("utf-8", "replace") for n in line_numbers]
