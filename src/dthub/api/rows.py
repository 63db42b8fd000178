"""The governed rows of a dataset (数据查询): `GET /api/v1/datasets/{id}/rows`, through the access policy.

JSON and GeoJSON answer one page with a cursor to the next; CSV and Parquet export up to `limit` rows,
streamed chunk by chunk (each Parquet chunk one row group, its bytes sent as soon as it is written).
Every answer is masked, withheld and scoped as `hub.access` decides, and audited.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from fastapi import APIRouter, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import Field

from dthub.hub import access, keys, query
from dthub.hub.access import Treatment
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.domain import UnknownName
from dthub.hub.query import QueryError, RowQuery
from dthub.hub.web import (
    INVALID_PARAMETERS,
    KEYS_UNAVAILABLE,
    RATE_LIMITED,
    UNAUTHORISED,
    ApiProblem,
    HubDep,
    LimitedConsumerDep,
    Model,
    answers,
    keys_or_503,
)

router = APIRouter(prefix="/api/v1/datasets", tags=["rows"])

Format = Literal["json", "csv", "parquet", "geojson"]
MAX_PAGE_ROWS = 10_000
"""Most rows of a JSON or GeoJSON page; CSV and Parquet exports go up to `limit`'s maximum."""
MAX_EXPORT_ROWS = 1_000_000
FORBIDDEN = (
    "No approved, unexpired grant on the dataset (`access.no_grant`), or a clearance below its level "
    "(`access.clearance_below_level`)."
)


class FieldAccess(Model):
    """How one field of the dataset comes back to this reader."""

    name: str = Field(description="Column name.")
    treatment: Treatment = Field(
        description="`plain`, `masked` (format-keeping mask, coarse point) or `withheld`."
    )


class RowsPage(Model):
    """One page of rows, as the reader's clearance and scope allow."""

    dataset: str = Field(description="Dataset id.")
    fields: list[FieldAccess] = Field(description="Every field of the dataset and how it is served.")
    rows: list[dict[str, Any]] = Field(description="The rows: selected fields, masked; withheld ones absent.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


DatasetId = Annotated[
    str, Path(description="Dataset id, `<domain>.<name>`.", examples=["roads.detector_observations"])
]


@router.get(
    "/{dataset_id}/rows",
    summary="Read a dataset's rows",
    response_model=RowsPage,
    responses={
        **answers(
            "A page of rows (JSON), a GeoJSON FeatureCollection, or a CSV or Parquet export.",
            not_found="No domain declares this dataset; `error` is `dataset.not_found`.",
            invalid=INVALID_PARAMETERS + " Also `query.*`: an unknown field, a bad value, a filter or sort "
            "on a masked field, a cursor of another query.",
            unauthorised=UNAUTHORISED,
            forbidden=FORBIDDEN,
            limited=RATE_LIMITED,
            unavailable=KEYS_UNAVAILABLE,
            media_types=("application/geo+json", "text/csv", "application/vnd.apache.parquet"),
        ),
    },
)
def get_rows(
    hub: HubDep,
    consumer: LimitedConsumerDep,
    dataset_id: DatasetId,
    fields: Annotated[
        str | None, Query(description="Comma-separated fields; default every field you may see.")
    ] = None,
    filter_: Annotated[
        list[str] | None,
        Query(
            alias="filter",
            description="Repeatable: `column:eq:value`, `column:in:a|b|c`, `column:range:low..high`.",
            examples=["station_id:eq:400001"],
        ),
    ] = None,
    since: Annotated[
        str | None, Query(description="Time window start (inclusive), ISO 8601 with offset.")
    ] = None,
    until: Annotated[
        str | None, Query(description="Time window end (exclusive), ISO 8601 with offset.")
    ] = None,
    bbox: Annotated[
        str | None, Query(description="`min_lon,min_lat,max_lon,max_lat` (WGS-84), datasets with points.")
    ] = None,
    sort: Annotated[str | None, Query(description="Comma-separated fields, `-` for descending.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_EXPORT_ROWS, description="Rows per page (JSON: at most 10,000) or export.")
    ] = 100,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    format_: Annotated[Format, Query(alias="format", description="json, csv, parquet or geojson.")] = "json",
) -> Any:
    """The dataset's rows as your grant, clearance and organisation allow: fields above your clearance come
    back masked or not at all, rows outside your organisation's scope never come back, and the read is
    written to the audit log. Filters and sort apply only to fields you see plain."""
    spec = _declared(hub, dataset_id)
    decision = access.authorise(hub, consumer, spec)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {spec.id}")
    try:
        asked = _query(spec, fields, filter_ or [], since, until, bbox, sort, limit)
        if cursor is not None:
            asked = dataclasses.replace(asked, offset=query.decode_cursor(asked, cursor))
        if format_ in ("json", "geojson") and limit > MAX_PAGE_ROWS:
            raise QueryError("query.page_too_big", f"limit {limit} > {MAX_PAGE_ROWS} for {format_}")
        if format_ == "geojson" and spec.point_columns is None:
            raise QueryError("query.no_points", f"{spec.id} has no longitude/latitude for GeoJSON")
        query.check(spec, decision, asked)
    except QueryError as exc:
        raise ApiProblem(422, exc.reason, exc.detail) from None
    with keys_or_503():
        keys.check_readable(hub, spec)
        if format_ == "csv":
            return StreamingResponse(
                _csv(query.stream(hub, consumer, spec, decision, asked, fmt="csv")),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{spec.id}.csv"'},
            )
        if format_ == "parquet":
            return StreamingResponse(
                _parquet(query.stream(hub, consumer, spec, decision, asked, fmt="parquet")),
                media_type="application/vnd.apache.parquet",
                headers={"Content-Disposition": f'attachment; filename="{spec.id}.parquet"'},
            )
        rows = query.read_page(hub, consumer, spec, decision, asked, fmt=format_)
    after = asked.offset + rows.num_rows
    next_cursor = query.encode_cursor(asked, after) if rows.num_rows == asked.limit else None
    if format_ == "geojson":
        collection = query.geojson(spec, rows)
        headers = {"X-Next-Cursor": next_cursor} if next_cursor else {}
        return _json_response(collection, "application/geo+json", headers)
    return RowsPage(
        dataset=spec.id,
        fields=[FieldAccess(name=name, treatment=t) for name, t in decision.fields.items()],
        rows=rows.to_pylist(),
        next_cursor=next_cursor,
    )


def _query(
    spec: DatasetSpec,
    fields: str | None,
    filters: list[str],
    since: str | None,
    until: str | None,
    bbox: str | None,
    sort: str | None,
    limit: int,
) -> RowQuery:
    return RowQuery(
        fields=tuple(f.strip() for f in (fields or "").split(",") if f.strip()),
        filters=tuple(query.parse_filter(spec, text) for text in filters),
        since=query.parse_time(since) if since else None,
        until=query.parse_time(until) if until else None,
        bbox=query.parse_bbox(bbox) if bbox else None,
        sort=query.parse_sort(spec, sort) if sort else (),
        limit=limit,
    )


def _csv(chunks: Iterator[pa.Table]) -> Iterator[bytes]:
    first = True
    for chunk in chunks:
        if chunk.num_rows == 0 and not first:
            continue
        buffer = io.BytesIO()
        pcsv.write_csv(chunk, buffer, write_options=pcsv.WriteOptions(include_header=first))
        first = False
        yield buffer.getvalue()


class _Sink(io.RawIOBase):
    """A write-only file that keeps what was written until `take`, and its position for the writer."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _parquet(chunks: Iterator[pa.Table]) -> Iterator[bytes]:
    """One Parquet file, a row group per chunk, its bytes yielded as each row group is written."""
    sink = _Sink()
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in chunks:
            if writer is None:
                writer = pq.ParquetWriter(sink, chunk.schema, compression="zstd")
            elif chunk.num_rows == 0:
                continue
            writer.write_table(chunk.cast(writer.schema))
            if data := sink.take():
                yield data
        if writer is None:
            writer = pq.ParquetWriter(sink, pa.schema([]), compression="zstd")
    finally:
        if writer is not None:
            writer.close()
    yield sink.take()


def _json_response(body: Any, media_type: str, headers: dict[str, str]) -> Response:
    return JSONResponse(jsonable_encoder(body), media_type=media_type, headers=headers)


def _declared(hub: Hub, dataset_id: str) -> DatasetSpec:
    try:
        return hub.registry.dataset(dataset_id)
    except UnknownName as exc:
        raise ApiProblem(404, "dataset.not_found", str(exc)) from None
