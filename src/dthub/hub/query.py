"""Governed reads of a dataset's rows (数据查询): field selection, filters, time window, bounding box, sort
and pages, always through an access `Decision`.

A query may select, filter and sort only on fields the reader sees plain (a filter on a masked plate would
let it test guesses), and a bounding box needs the dataset's point columns plain. The row scope of the
decision is one more filter. Pages are ordered by the requested sort, then the primary key, so that an
offset names the same rows while the lake does not change; the cursor is that offset, with a digest of the
query so that it only continues the query it came from. Every read is written to the audit log with what
was asked and how many rows were served.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import ibis
import pyarrow as pa

from dthub.hub import access, audit, engine, keys
from dthub.hub.access import Decision
from dthub.hub.audit import Action
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.errors import Refusal
from dthub.hub.identity import Consumer
from dthub.hub.masking import coarsen_time

FilterOp = Literal["eq", "in", "range"]
EXPORT_CHUNK_ROWS = 50_000


class QueryError(Refusal):
    """A query the hub refuses (HTTP 422); `reason` is a stable key, the message quotes the bad value."""


@dataclass(frozen=True, kw_only=True)
class Filter:
    """`column` equal to the value, in the values, or in [low, high] (either end may be None)."""

    column: str
    op: FilterOp
    values: tuple[Any, ...]

    def describe(self) -> str:
        return f"{self.column}:{self.op}:{'|'.join(_text(v) or '' for v in self.values)}"


@dataclass(frozen=True, kw_only=True)
class RowQuery:
    fields: tuple[str, ...] = ()
    """Empty: every field the reader sees."""
    filters: tuple[Filter, ...] = ()
    since: datetime | None = None
    """Time window on the time column: since (inclusive) ..."""
    until: datetime | None = None
    """... until (exclusive), UTC."""
    bbox: tuple[float, float, float, float] | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    """(column, descending)."""
    limit: int = 1000
    offset: int = 0

    def digest(self) -> str:
        """What the cursor checks: the query without its page."""
        body = {
            "fields": self.fields,
            "filters": [f.describe() for f in self.filters],
            "since": _text(self.since),
            "until": _text(self.until),
            "bbox": self.bbox,
            "sort": self.sort,
        }
        return hashlib.sha256(json.dumps(body, default=str).encode()).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """For the audit log."""
        return {
            "fields": list(self.fields),
            "filters": [f.describe() for f in self.filters],
            "since": _text(self.since),
            "until": _text(self.until),
            "bbox": list(self.bbox) if self.bbox else None,
            "sort": [f"{'-' if desc else ''}{name}" for name, desc in self.sort],
            "limit": self.limit,
            "offset": self.offset,
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


# Parsing what a reader sends


def parse_value(spec: DatasetSpec, column: str, text: str) -> Any:
    """`text` as a value of the column's Arrow type; QueryError when it is not one."""
    kind = spec.schema.field(column).type
    try:
        if pa.types.is_integer(kind):
            return int(text)
        if pa.types.is_floating(kind):
            return float(text)
        if pa.types.is_boolean(kind):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if pa.types.is_timestamp(kind):
            return parse_time(text)
    except ValueError:
        raise QueryError("query.bad_value", f"{column}: {text!r} is not a {kind}") from None
    return text


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with its offset (`2022-10-04T08:00:00Z`), as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError("query.bad_time", f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise QueryError("query.bad_time", f"{text!r} has no UTC offset (add Z or +08:00)")
    return value.astimezone(UTC)


def parse_filter(spec: DatasetSpec, text: str) -> Filter:
    """`column:eq:value`, `column:in:a|b|c` or `column:range:low..high` (an end may be empty)."""
    column, _, rest = text.partition(":")
    op, _, value = rest.partition(":")
    _known(spec, column)
    if op == "eq":
        return Filter(column=column, op="eq", values=(parse_value(spec, column, value),))
    if op == "in":
        values = tuple(parse_value(spec, column, v) for v in value.split("|"))
        return Filter(column=column, op="in", values=values)
    if op == "range" and ".." in value:
        low, high = value.split("..", 1)
        bounds = tuple(parse_value(spec, column, v) if v else None for v in (low, high))
        return Filter(column=column, op="range", values=bounds)
    raise QueryError("query.bad_filter", f"{text!r}: want column:eq:v, column:in:a|b or column:range:lo..hi")


def parse_sort(spec: DatasetSpec, text: str) -> tuple[tuple[str, bool], ...]:
    """`-observed_at,station_id`: descending with a leading `-`."""
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name = part.removeprefix("-")
        _known(spec, name)
        keys.append((name, part.startswith("-")))
    return tuple(keys)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """`min_lon,min_lat,max_lon,max_lat`, WGS-84."""
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise QueryError("query.bad_bbox", f"{text!r}: want min_lon,min_lat,max_lon,max_lat") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise QueryError("query.bad_bbox", f"{text!r}: not a box on the globe (west<=east, south<=north)")
    return west, south, east, north


def _known(spec: DatasetSpec, column: str) -> None:
    if column not in spec.schema.names:
        raise QueryError("query.unknown_field", f"{column!r}; known: {', '.join(spec.schema.names)}")


def encode_cursor(query: RowQuery, offset: int) -> str:
    raw = json.dumps({"o": offset, "q": query.digest()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: RowQuery, cursor: str) -> int:
    """The offset a cursor names, if it continues `query`."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, digest = int(body["o"]), str(body["q"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise QueryError("query.bad_cursor", f"{cursor!r} is not a cursor of this API") from None
    if digest != query.digest() or offset < 0:
        raise QueryError("query.bad_cursor", "the cursor belongs to another query; start again without it")
    return offset


# Running a query


def check(spec: DatasetSpec, decision: Decision, query: RowQuery) -> None:
    """Refuse what the decision does not allow a query to touch."""
    visible = decision.visible()
    for name in query.fields:
        _known(spec, name)
        if name not in visible:
            raise QueryError("query.field_withheld", f"{name!r} is withheld from you")
    touched = [f.column for f in query.filters] + [name for name, _ in query.sort]
    for name in touched:
        if not decision.plain(name):
            raise QueryError("query.field_not_plain", f"{name!r} is masked or withheld: no filter, no sort")
        if name in spec.encrypted_fields:
            raise QueryError("query.field_encrypted", f"{name!r} is encrypted at rest: no filter, no sort")
    if (query.since or query.until) and spec.time_column is None:
        raise QueryError("query.no_time_column", f"{spec.id} has no time column for since/until")
    if query.bbox is not None:
        if spec.point_columns is None:
            raise QueryError("query.no_points", f"{spec.id} has no longitude/latitude columns for bbox")
        if not all(decision.plain(c) for c in spec.point_columns):
            raise QueryError("query.field_not_plain", "the coordinates are masked for you: no bbox")


def expression(hub: Hub, con: Any, spec: DatasetSpec, decision: Decision, query: RowQuery) -> ibis.Table:
    """The rows asked for, in scope, ordered, one page, as an Ibis expression (before masking)."""
    check(spec, decision, query)
    table = hub.table(spec.id, con)
    predicates: list[Any] = []
    scope = access.scope_filter(decision.scope, table)
    if scope is not None:
        predicates.append(scope)
    for item in query.filters:
        column = table[item.column]
        if item.op == "eq":
            predicates.append(column == _literal(item.values[0]))
        elif item.op == "in":
            predicates.append(column.isin([_literal(v) for v in item.values]))
        else:
            low, high = item.values
            if low is not None:
                predicates.append(column >= _literal(low))
            if high is not None:
                predicates.append(column <= _literal(high))
    if spec.time_column is not None:
        # a reader who gets a track's time truncated gets windows of whole cells, or they would find
        # precise times by narrowing the window
        grid = access.TIME_GRID_MIN if access.coarsens_time(decision, spec) else None
        if query.since is not None:
            since = _snap(query.since, grid, up=False)
            predicates.append(table[spec.time_column] >= _literal(since))
        if query.until is not None:
            until = _snap(query.until, grid, up=True)
            predicates.append(table[spec.time_column] < _literal(until))
    if query.bbox is not None and spec.point_columns is not None:
        predicates.append(access.in_bbox(table, spec.point_columns, query.bbox))
    if predicates:
        table = table.filter(*predicates)
    keys = [ibis.desc(name) if desc else ibis.asc(name) for name, desc in query.sort]
    sorted_names = {name for name, _ in query.sort}
    keys += [ibis.asc(name) for name in spec.primary_key if name not in sorted_names]
    names = list(query.fields) or decision.visible()
    return table.order_by(keys).select(names).limit(query.limit, offset=query.offset)


def _snap(at: datetime, minutes: int | None, *, up: bool) -> datetime:
    """`at` moved to the edge of its cell of `minutes` (down, or up unless on an edge); as is when None."""
    if minutes is None:
        return at
    down = coarsen_time(at.astimezone(UTC), minutes=minutes)
    return down + timedelta(minutes=minutes) if up and down != at else down


def _literal(value: Any) -> Any:
    """Lake timestamps are naive UTC in Ibis (see `hub.engine`)."""
    if isinstance(value, datetime):
        return ibis.literal(value.astimezone(UTC).replace(tzinfo=None))
    return value


def read_page(
    hub: Hub,
    consumer: Consumer,
    spec: DatasetSpec,
    decision: Decision,
    query: RowQuery,
    *,
    fmt: str,
    purpose: str | None = None,
) -> pa.Table:
    """One page, decrypted then masked as the decision says; the read and any decryption are audited (with
    the `purpose` of a service identity's read, when given)."""
    served, decrypted = 0, dict[str, int]()
    key = access.pseudonym_key(hub.settings, consumer)
    try:
        rows = engine.to_arrow(expression(hub, hub.reader(), spec, decision, query))
        rows, decrypted = keys.decrypt_columns(hub, spec, rows)
        masked = access.apply(decision, spec, rows, pseudonym_key=key)
        served = masked.num_rows
        return masked
    finally:
        record_read(hub, consumer, spec, query, fmt=fmt, rows=served, purpose=purpose)
        record_decryption(hub, consumer, spec, decision, decrypted)


def stream(
    hub: Hub, consumer: Consumer, spec: DatasetSpec, decision: Decision, query: RowQuery, *, fmt: str
) -> Iterator[pa.Table]:
    """The rows asked for in masked chunks of `EXPORT_CHUNK_ROWS`; audited when the stream ends, with the
    rows actually sent, and with the values decrypted. Call `check` first: this is a generator, its errors
    come late."""
    served, decrypted = 0, dict.fromkeys(spec.encrypted_fields, 0)
    key = access.pseudonym_key(hub.settings, consumer)
    try:
        con = hub.connect()
        for rows in engine.to_arrow_batches(expression(hub, con, spec, decision, query), EXPORT_CHUNK_ROWS):
            rows, counts = keys.decrypt_columns(hub, spec, rows)
            for column, count in counts.items():
                decrypted[column] += count
            masked = access.apply(decision, spec, rows, pseudonym_key=key)
            served += masked.num_rows
            yield masked
    finally:
        record_read(hub, consumer, spec, query, fmt=fmt, rows=served)
        record_decryption(hub, consumer, spec, decision, decrypted)


def record_decryption(
    hub: Hub, consumer: Consumer, spec: DatasetSpec, decision: Decision, counts: dict[str, int]
) -> None:
    plain = [name for name in counts if decision.plain(name)]
    keys.record_decryption(hub, consumer.actor, spec, counts, plain=plain)


def record_read(
    hub: Hub,
    consumer: Consumer,
    spec: DatasetSpec,
    query: RowQuery,
    *,
    fmt: str,
    rows: int,
    purpose: str | None = None,
) -> None:
    """Audit a read: `arrow` is an in-process read (a service of the hub), CSV and Parquet are exports."""
    action = Action.READ if fmt in ("json", "geojson", "arrow") else Action.EXPORT
    detail: dict[str, Any] = {"step": "rows", "format": fmt, "rows": rows}
    if purpose is not None:
        detail["purpose"] = purpose
    audit.append(hub.store, consumer.actor, action, spec.id, {**detail, **query.describe()})


def geojson(spec: DatasetSpec, rows: pa.Table) -> dict[str, Any]:
    """A FeatureCollection: each row a Point at the dataset's (lon, lat), the other fields properties."""
    assert spec.point_columns is not None
    lon, lat = spec.point_columns
    features = []
    for row in rows.to_pylist():
        x, y = row.pop(lon, None), row.pop(lat, None)
        geometry = {"type": "Point", "coordinates": [x, y]} if x is not None and y is not None else None
        features.append({"type": "Feature", "geometry": geometry, "properties": row})
    return {"type": "FeatureCollection", "features": features}
