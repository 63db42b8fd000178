"""Catalog declarations: a dataset (数据集) as a domain declares it, and its row rules.

A domain declares each dataset once, in its `datasets.py`; the hub stores the declaration in the operational
store, lands rows in the lake under it, and validates every row against its schema and rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from dthub.hub.classification import Level
from dthub.hub.pii import PiiKind

RowCheck = Callable[[pa.Table], pa.ChunkedArray | pa.Array]
"""Vectorised check over a batch of rows: True where a row passes; null counts as a pass."""


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A rule every landed row must satisfy; rows that fail go to quarantine as `rule.<name>`."""

    name: str
    description: str
    check: RowCheck
    columns: tuple[str, ...]
    """Columns the rule reads; their values are quoted when a row fails."""


def in_range(column: str, low: float, high: float) -> Rule:
    """`column` is null or within [low, high]."""
    return Rule(
        name=f"{column}_in_range",
        description=f"{column} is empty or between {low:g} and {high:g}",
        columns=(column,),
        check=lambda rows: pc.and_kleene(
            pc.greater_equal(rows[column], low), pc.less_equal(rows[column], high)
        ),
    )


def one_of(column: str, values: tuple[str, ...]) -> Rule:
    """`column` is null or one of `values`."""
    return Rule(
        name=f"{column}_known",
        description=f"{column} is empty or one of {', '.join(values)}",
        columns=(column,),
        check=lambda rows: pc.is_in(rows[column], value_set=pa.array(values)),
    )


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """One dataset of the catalog, declared by its domain."""

    id: str
    """`<domain>.<name>`, e.g. `roads.detector_observations`."""
    title_zh: str
    title_en: str
    description: str
    schema: pa.Schema
    """Arrow schema of a row; timestamps are UTC (`timestamp("us", tz="UTC")`)."""
    primary_key: tuple[str, ...]
    """Columns that identify a row; a row whose key is already landed is a duplicate."""
    time_column: str | None
    """Event time of a row: freshness is its latest value, and the lake is partitioned by its UTC date."""
    owner: str
    """Organisation accountable for the data (数据责任单位)."""
    update_frequency: str
    """How often new data arrives, ISO 8601 duration (`PT5M`) or `irregular`."""
    retention_days: int | None
    """Days the data is kept; None keeps it for ever."""
    level: Level
    """Classification under GB/T 43697-2024."""
    pii_fields: tuple[str, ...] = ()
    """Columns holding personal information (plate, phone, ID number, precise track)."""
    pii_kinds: Mapping[str, PiiKind] = field(default_factory=dict, hash=False)
    """Kind of each PII field (`plate`, `mobile`, `location`, ...): it picks the mask a reader below the
    field's level gets (`hub.access`). A PII field without a kind is withheld from such a reader."""
    encrypted_fields: tuple[str, ...] = ()
    """PII string columns stored SM4-encrypted in the lake (`hub.keys`); never a primary-key column, since
    a token differs at every write and de-duplication compares keys."""
    pseudonymised_fields: tuple[str, ...] = ()
    """PII fields that are join keys: a reader below the field's level gets a keyed pseudonym
    (`masking.pseudonym`, a key per consumer) instead of stars, so that datasets still join on the token."""
    vehicle_column: str | None = None
    """Column naming the vehicle (plate or id): a company sees only rows of its own vehicles."""
    district_column: str | None = None
    """Column holding a district code: a district sees only rows of its code (or inside its box)."""
    point_columns: tuple[str, str] | None = None
    """(longitude, latitude) columns, WGS-84: bounding-box filters, GeoJSON, and district boxes use them."""
    rules: tuple[Rule, ...] = ()
    partitioning: Literal["date", "none"] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitioning", "none" if self.time_column is None else "date")
        names = set(self.schema.names)
        scoped = (self.vehicle_column, self.district_column, *(self.point_columns or ()))
        declared = (*self.primary_key, *self.pii_fields, *(c for c in scoped if c is not None))
        for column in declared:
            if column not in names:
                raise ValueError(f"dataset {self.id}: column {column!r} is not in its schema")
        for column in self.pii_kinds:
            if column not in self.pii_fields:
                raise ValueError(f"dataset {self.id}: pii_kinds names {column!r}, not a PII field")
        for column in self.pseudonymised_fields:
            if column not in self.pii_fields:
                raise ValueError(f"dataset {self.id}: pseudonymised field {column!r} is not a PII field")
        for column in self.encrypted_fields:
            if column not in self.pii_fields:
                raise ValueError(f"dataset {self.id}: encrypted field {column!r} is not a PII field")
            if not pa.types.is_string(self.schema.field(column).type):
                raise ValueError(f"dataset {self.id}: encrypted field {column!r} is not a string column")
            if column in self.primary_key:
                raise ValueError(f"dataset {self.id}: encrypted field {column!r} is in the primary key")
        if self.time_column is not None and self.time_column not in names:
            raise ValueError(f"dataset {self.id}: time column {self.time_column!r} is not in its schema")
        if self.id.count(".") != 1:
            raise ValueError(f"dataset id {self.id!r} must be <domain>.<name>")

    @property
    def domain(self) -> str:
        return self.id.split(".", 1)[0]
