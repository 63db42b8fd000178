"""OGC API - Features Part 1 (Core, GeoJSON) over the hub's spatial datasets, through the same policy.

Government GIS clients (QGIS, ArcGIS, GDAL's OAPIF driver) speak it: a landing page, the conformance
classes, the collections (every dataset that declares longitude/latitude columns), and each collection's
items as a GeoJSON FeatureCollection filtered by `bbox` and `datetime` and paged by `limit`/`offset`. Items
are read through `hub.query` like `/api/v1/datasets/{id}/rows`: masked, scoped and audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from dthub.hub import access, query
from dthub.hub.dataset import DatasetSpec
from dthub.hub.query import QueryError, RowQuery
from dthub.hub.tables import utcnow
from dthub.hub.web import (
    INVALID_PARAMETERS,
    KEYS_UNAVAILABLE,
    RATE_LIMITED,
    UNAUTHORISED,
    ApiProblem,
    HubDep,
    LimitedConsumerDep,
    answers,
    keys_or_503,
)

router = APIRouter(prefix="/ogc", tags=["ogc"])

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"
NOT_SPATIAL = "No spatial dataset has this id; `error` is `collection.not_found`."
FORBIDDEN = "No live grant for this collection, or clearance below its level; `error` is `access.*`."
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000

CollectionId = Annotated[
    str, Path(description="Collection id: a spatial dataset's id.", examples=["vehicles.location_reports"])
]


def _json(body: Any, media_type: str = "application/json") -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), media_type=media_type)


@router.get(
    "",
    summary="OGC API landing page",
    responses=answers("Title, description and links to the API definition, conformance and collections."),
)
def landing(request: Request) -> JSONResponse:
    """The OGC API - Features landing page (数据服务入口)."""
    base = str(request.base_url).rstrip("/")
    return _json(
        {
            "title": "dthub OGC API - Features",
            "description": "数字交通中枢的空间数据集 Spatial datasets of the digital transport hub",
            "links": [
                {"href": f"{base}/ogc", "rel": "self", "type": "application/json"},
                {
                    "href": f"{base}/openapi.json",
                    "rel": "service-desc",
                    "type": "application/vnd.oai.openapi+json;version=3.0",
                },
                {"href": f"{base}/ogc/conformance", "rel": "conformance", "type": "application/json"},
                {"href": f"{base}/ogc/collections", "rel": "data", "type": "application/json"},
            ],
        }
    )


@router.get(
    "/conformance",
    summary="OGC API conformance classes",
    responses=answers("The conformance classes this API implements: Core, GeoJSON, OpenAPI 3.0."),
)
def conformance() -> JSONResponse:
    """The conformance classes (符合性声明) of OGC API - Features Part 1 that this API implements."""
    return _json({"conformsTo": list(CONFORMANCE)})


@router.get(
    "/collections",
    summary="List the spatial collections",
    responses=answers("Every dataset with longitude/latitude columns, as an OGC collection."),
)
def collections(hub: HubDep, request: Request) -> JSONResponse:
    """Every dataset that declares point columns, as an OGC collection with its items link."""
    base = str(request.base_url).rstrip("/")
    specs = sorted((s for s in hub.registry.datasets.values() if s.point_columns), key=lambda s: s.id)
    return _json(
        {
            "links": [{"href": f"{base}/ogc/collections", "rel": "self", "type": "application/json"}],
            "collections": [_collection(spec, base) for spec in specs],
        }
    )


@router.get(
    "/collections/{collection_id}",
    summary="Describe a spatial collection",
    responses=answers(
        "The collection: title, description, CRS and the items link.",
        not_found=NOT_SPATIAL,
        invalid=INVALID_PARAMETERS,
    ),
)
def collection(hub: HubDep, request: Request, collection_id: CollectionId) -> JSONResponse:
    """One spatial dataset as an OGC collection."""
    return _json(
        _collection(
            _spatial(hub.registry.datasets.get(collection_id), collection_id),
            str(request.base_url).rstrip("/"),
        )
    )


@router.get(
    "/collections/{collection_id}/items",
    summary="Read a collection's features",
    responses=answers(
        "A GeoJSON FeatureCollection with `numberReturned`, `timeStamp` and a `next` link when more remain.",
        not_found=NOT_SPATIAL,
        invalid=INVALID_PARAMETERS + " Also `query.*`: a malformed bbox or datetime, or a bbox on masked "
        "coordinates.",
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
        limited=RATE_LIMITED,
        unavailable=KEYS_UNAVAILABLE,
        media_types=(GEOJSON,),
    ),
)
def items(
    hub: HubDep,
    consumer: LimitedConsumerDep,
    request: Request,
    collection_id: CollectionId,
    bbox: Annotated[
        str | None,
        Query(description="`min_lon,min_lat,max_lon,max_lat` in CRS84.", examples=["117.1,39.0,117.3,39.2"]),
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            description="An RFC 3339 instant, or an interval `start/end` where either end may be `..`.",
            examples=["2026-03-01T00:00:00Z/.."],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Features per page.")] = 10,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Features to skip (the `next` link sets it).")
    ] = 0,
) -> JSONResponse:
    """The features of a spatial dataset as your grant, clearance and organisation allow, like the rows
    route: masked coordinates are coarsened, rows outside your scope never come back, the read is audited."""
    spec = _spatial(hub.registry.datasets.get(collection_id), collection_id)
    decision = access.authorise(hub, consumer, spec)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {spec.id}")
    try:
        since, until = parse_datetime(datetime_) if datetime_ else (None, None)
        asked = RowQuery(
            bbox=query.parse_bbox(bbox) if bbox else None,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        if (since or until) and spec.time_column is None:
            raise QueryError("query.no_time", f"{spec.id} has no time column for datetime")
        query.check(spec, decision, asked)
    except QueryError as exc:
        raise ApiProblem(422, exc.reason, exc.detail) from None
    with keys_or_503():
        rows = query.read_page(hub, consumer, spec, decision, asked, fmt="geojson")
    body = query.geojson(spec, rows)
    self_url = str(request.url)
    links = [{"href": self_url, "rel": "self", "type": GEOJSON}]
    if rows.num_rows == limit:
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit)),
                "rel": "next",
                "type": GEOJSON,
            }
        )
    body |= {"numberReturned": rows.num_rows, "timeStamp": utcnow().isoformat(), "links": links}
    return _json(body, GEOJSON)


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """OGC `datetime`: an instant (as the one-microsecond window that holds it) or `start/end` with `..`
    or an empty end for open; returns (since inclusive, until exclusive)."""
    if "/" not in text:
        instant = query.parse_time(text)
        return instant, instant + timedelta(microseconds=1)
    start, _, end = text.partition("/")
    since = None if start in ("", "..") else query.parse_time(start)
    until = None if end in ("", "..") else query.parse_time(end) + timedelta(microseconds=1)
    if since is not None and until is not None and since >= until:
        raise QueryError("query.bad_datetime", f"interval {text!r} ends before it starts")
    return since, until


def _spatial(spec: DatasetSpec | None, collection_id: str) -> DatasetSpec:
    if spec is None or spec.point_columns is None:
        raise ApiProblem(404, "collection.not_found", f"no spatial dataset {collection_id!r}")
    return spec


def _collection(spec: DatasetSpec, base: str) -> dict[str, Any]:
    href = f"{base}/ogc/collections/{spec.id}"
    return {
        "id": spec.id,
        "title": f"{spec.title_zh} {spec.title_en}",
        "description": spec.description,
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            {"href": href, "rel": "self", "type": "application/json"},
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON},
        ],
    }
