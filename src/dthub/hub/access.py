"""The access policy (访问控制): what a consumer may read of a dataset, field by field and row by row.

`decide` is pure. A consumer reads a dataset when it holds an approved, unexpired grant (or is an admin)
and its clearance reaches the dataset's level. Then each field is:

- plain, when the consumer's clearance reaches the field's level: the dataset's level, raised for a PII
  field to the level of its kind (`PII_LEVELS`; ⚠️ a policy table, not a standard: GB/T 43697 Annex H was not
  retrieved);
- masked, below that, when the field declares a PII kind: star masks of `hub.masking` (or, for a field the
  dataset declares in `pseudonymised_fields`, a keyed pseudonym under the reader's own key, derived from the
  hub's `pseudonym_key` setting; stars when that is not set), coordinates snapped
  to a grid of `GRID_M` metres (precise tracks are sensitive, PIPL Art. 28), and then the dataset's time
  column truncated to `TIME_GRID_MIN` minutes as well, so that a track is coarse in space and in time;
- withheld (not returned at all), below that, when the field is PII without a declared kind.

Rows are scoped by the consumer's organisation (`row_scope`, `scope_filter`): a company sees only rows
whose vehicle column is one of its vehicles, a district only rows whose district column is its code or whose
point lies in its box. A dataset that declares no such column is not scoped for that kind of organisation
(it holds no one's vehicles, no place). `authorise` looks the grant up and writes every decision to the
audit log; `hub.query` writes every read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select

from dthub.hub import audit
from dthub.hub.audit import Action
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.identity import Consumer, Role
from dthub.hub.identity_tables import GrantRow
from dthub.hub.masking import coarsen_points, consumer_key, mask_array, pseudonym_array
from dthub.hub.pii import PiiKind
from dthub.hub.settings import Settings
from dthub.hub.store import Store
from dthub.hub.tables import utcnow

PII_LEVELS: Mapping[PiiKind, Level] = {
    PiiKind.RESIDENT_ID: Level.IMPORTANT,
    PiiKind.MOBILE: Level.GENERAL_4,
    PiiKind.NAME: Level.GENERAL_4,
    PiiKind.LOCATION: Level.GENERAL_4,
    PiiKind.PLATE: Level.GENERAL_3,
    PiiKind.VIN: Level.GENERAL_3,
    PiiKind.USCC: Level.GENERAL_2,
}
"""Least clearance that sees a PII kind plain (⚠️ policy, configurable by passing another table)."""
UNKINDED_PII_LEVEL = Level.IMPORTANT
GRID_M = 1_000.0
"""Cell size, metres, of coordinates a reader below their level gets."""
TIME_GRID_MIN = 15
"""Minutes the time column of a track is truncated to for a reader who gets its coordinates coarse."""
DEGREES_WHEN_ALONE = 2
"""Decimals kept of a location column that has no declared partner (about 1 km)."""


class Treatment(StrEnum):
    PLAIN = "plain"
    MASKED = "masked"
    WITHHELD = "withheld"


@dataclass(frozen=True, kw_only=True)
class RowScope:
    """Which rows an organisation sees; `unscoped` true sees all."""

    unscoped: bool = True
    vehicle_column: str | None = None
    vehicles: tuple[str, ...] = ()
    district_column: str | None = None
    district_code: str | None = None
    point_columns: tuple[str, str] | None = None
    bbox: tuple[float, float, float, float] | None = None

    def describe(self) -> dict[str, Any]:
        """For the audit log."""
        if self.unscoped:
            return {"unscoped": True}
        return {
            "vehicles": len(self.vehicles) if self.vehicle_column else None,
            "district_code": self.district_code if self.district_column else None,
            "bbox": list(self.bbox) if self.bbox and self.point_columns else None,
        }


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a consumer gets of a dataset."""

    dataset_id: str
    allowed: bool
    reason: str
    """`access.admin`, `access.grant`, or why not: `access.no_grant`, `access.clearance_below_level`."""
    fields: Mapping[str, Treatment] = field(default_factory=dict)
    scope: RowScope = field(default_factory=RowScope)

    def visible(self) -> list[str]:
        """Fields that come back (plain or masked), in schema order."""
        return [name for name, treatment in self.fields.items() if treatment is not Treatment.WITHHELD]

    def plain(self, name: str) -> bool:
        return self.fields.get(name) is Treatment.PLAIN

    def audit_detail(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "masked": sorted(n for n, t in self.fields.items() if t is Treatment.MASKED),
            "withheld": sorted(n for n, t in self.fields.items() if t is Treatment.WITHHELD),
            "scope": self.scope.describe(),
        }


def field_level(spec: DatasetSpec, name: str, pii_levels: Mapping[PiiKind, Level] = PII_LEVELS) -> Level:
    """The least clearance that sees `name` plain."""
    if name not in spec.pii_fields:
        return spec.level
    kind = spec.pii_kinds.get(name)
    level = pii_levels.get(kind, UNKINDED_PII_LEVEL) if kind is not None else UNKINDED_PII_LEVEL
    return max(level, spec.level, key=lambda each: each.rank)


def decide(
    consumer: Consumer,
    spec: DatasetSpec,
    *,
    granted: bool,
    pii_levels: Mapping[PiiKind, Level] = PII_LEVELS,
) -> Decision:
    """What `consumer` may read of `spec`, given whether it holds a live grant on it."""
    admin = consumer.role is Role.ADMIN
    if not (admin or granted):
        return Decision(dataset_id=spec.id, allowed=False, reason="access.no_grant")
    if consumer.clearance.rank < spec.level.rank:
        return Decision(dataset_id=spec.id, allowed=False, reason="access.clearance_below_level")
    fields = {}
    for name in spec.schema.names:
        if consumer.clearance.rank >= field_level(spec, name, pii_levels).rank:
            fields[name] = Treatment.PLAIN
        elif name in spec.pii_kinds:
            fields[name] = Treatment.MASKED
        else:
            fields[name] = Treatment.WITHHELD
    return Decision(
        dataset_id=spec.id,
        allowed=True,
        reason="access.admin" if admin else "access.grant",
        fields=fields,
        scope=row_scope(consumer, spec),
    )


def row_scope(consumer: Consumer, spec: DatasetSpec) -> RowScope:
    """The rows of `spec` the consumer's organisation sees."""
    org = consumer.organisation
    if org is None or org.kind == "agency":
        return RowScope()
    if org.kind == "company":
        if spec.vehicle_column is None:
            return RowScope()
        return RowScope(unscoped=False, vehicle_column=spec.vehicle_column, vehicles=org.vehicles)
    if spec.district_column is None and spec.point_columns is None:
        return RowScope()
    return RowScope(
        unscoped=False,
        district_column=spec.district_column,
        district_code=org.district_code,
        point_columns=spec.point_columns,
        bbox=org.bbox,
    )


def scope_filter(scope: RowScope, table: ibis.Table) -> ibis.expr.types.BooleanValue | None:
    """The Ibis predicate of `scope` over `table`, None when unscoped; false when nothing matches."""
    if scope.unscoped:
        return None
    terms: list[Any] = []
    if scope.vehicle_column is not None and scope.vehicles:
        terms.append(table[scope.vehicle_column].cast("string").isin(list(scope.vehicles)))
    if scope.district_column is not None and scope.district_code is not None:
        terms.append(table[scope.district_column].cast("string") == scope.district_code)
    if scope.point_columns is not None and scope.bbox is not None:
        terms.append(in_bbox(table, scope.point_columns, scope.bbox))
    if not terms:
        return ibis.literal(False)
    predicate = terms[0]
    for term in terms[1:]:
        predicate = predicate | term
    return predicate.fill_null(False)


def in_bbox(
    table: ibis.Table, columns: tuple[str, str], bbox: tuple[float, float, float, float]
) -> ibis.expr.types.BooleanValue:
    lon, lat = table[columns[0]], table[columns[1]]
    west, south, east, north = bbox
    return lon.between(west, east) & lat.between(south, north)


def coarsens_time(decision: Decision, spec: DatasetSpec) -> bool:
    """Whether the reader gets the time column of a track truncated: its points are not plain."""
    points = spec.point_columns
    return spec.time_column is not None and points is not None and not all(decision.plain(c) for c in points)


def pseudonym_key(settings: Settings, consumer: Consumer) -> bytes | None:
    """The consumer's own pseudonym key, derived from the hub's `pseudonym_key`; None when that is unset."""
    if settings.pseudonym_key is None:
        return None
    return consumer_key(settings.pseudonym_key.get_secret_value().encode(), consumer.actor)


def apply(
    decision: Decision,
    spec: DatasetSpec,
    rows: pa.Table,
    *,
    grid_m: float = GRID_M,
    time_grid_min: int = TIME_GRID_MIN,
    pseudonym_key: bytes | None = None,
) -> pa.Table:
    """`rows` as the decision allows: withheld columns dropped, masked ones masked (pseudonymised fields
    tokenised under `pseudonym_key`, starred without one), a track's time truncated (columns not in `rows`
    are ignored, so a field selection passes through)."""
    names = [
        name
        for name in rows.column_names
        if decision.fields.get(name, Treatment.WITHHELD) is not Treatment.WITHHELD
    ]
    out = rows.select(names)
    points = spec.point_columns
    coarse: dict[str, pa.Array] = {}
    if points is not None and all(
        decision.fields.get(c) is Treatment.MASKED and c in out.column_names for c in points
    ):
        lons, lats = (_floats(out[c]) for c in points)
        snapped = coarsen_points(lons, lats, grid_m=grid_m)
        for name, values in zip(points, snapped, strict=True):
            coarse[name] = pa.array(values, mask=np.isnan(values), type=out.schema.field(name).type)
    for index, name in enumerate(out.column_names):
        if decision.fields.get(name) is not Treatment.MASKED:
            continue
        kind = spec.pii_kinds[name]
        column: pa.Array | pa.ChunkedArray
        if kind is PiiKind.LOCATION:
            column = coarse.get(name) or pa.array(
                [_round(v) for v in out[name].to_pylist()], type=out.schema.field(name).type
            )
        elif pseudonym_key is not None and name in spec.pseudonymised_fields:
            column = pseudonym_array(kind, out[name], key=pseudonym_key)
        else:
            column = mask_array(kind, out[name])
        out = out.set_column(index, out.schema.field(name).with_type(column.type), column)
    time = spec.time_column
    if time is not None and time in out.column_names and coarsens_time(decision, spec):
        index = out.schema.get_field_index(time)
        # whole multiples since the epoch; 1440 % time_grid_min == 0 keeps them multiples since midnight
        floored = pc.floor_temporal(out[time], multiple=time_grid_min, unit="minute")
        out = out.set_column(index, out.schema.field(time), floored)
    return out


def _floats(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A coordinate column as float64, NaN for nulls."""
    return np.asarray(pc.fill_null(column.cast(pa.float64()), float("nan")).to_numpy(), dtype=np.float64)


def _round(value: Any) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), DEGREES_WHEN_ALONE)


def active_grant(store: Store, actor: str, dataset_id: str) -> GrantRow | None:
    """The consumer's live grant on the dataset (not revoked, not expired), the latest expiring first."""
    query = (
        select(GrantRow)
        .where(
            GrantRow.consumer == actor,
            GrantRow.dataset_id == dataset_id,
            GrantRow.revoked_at.is_(None),
            GrantRow.expires_at > utcnow(),
        )
        .order_by(GrantRow.expires_at.desc())
        .limit(1)
    )
    with store.session() as session:
        return session.scalars(query).first()


def authorise(hub: Hub, consumer: Consumer, spec: DatasetSpec) -> Decision:
    """`decide` on the consumer's live grant; the decision is written to the audit log."""
    grant = active_grant(hub.store, consumer.actor, spec.id)
    decision = decide(consumer, spec, granted=grant is not None)
    detail = {"step": "decision", "grant": grant.id if grant else None, **decision.audit_detail()}
    audit.append(hub.store, consumer.actor, Action.READ, spec.id, detail)
    return decision
