"""The HTTP API: one FastAPI app over one hub, with the catalog, health, and each domain's routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import dthub
from dthub.api import access, catalog, ogc, rows
from dthub.api.models import ApiError, ApiProblem, Health
from dthub.domains import DOMAINS
from dthub.hub.core import Hub
from dthub.hub.domain import Domain
from dthub.hub.ratelimit import RateLimiter
from dthub.hub.settings import Settings
from dthub.web import mount as mount_console

log = logging.getLogger(__name__)

DESCRIPTION = """\
城市数字交通中枢的 HTTP 接口：数据目录（数据集的声明、分级、实时指标、表结构、校验规则与血缘），
健康检查，以及各业务域挂载在 `/api/v1/<业务域>` 下的接口。所有拒绝都以
`{"error": <稳定键>, "detail": <说明>}` 返回，时间均为带时区的 UTC。

HTTP API of a city's digital transport hub: the data catalog (each dataset's declaration,
classification level, live figures, schema, row rules and lineage), a health check, and each domain's
routes under `/api/v1/<domain>`. Every refusal answers `{"error": <stable key>, "detail": <text>}`;
timestamps are time-zone aware, in UTC.
"""

TAGS = [
    {"name": "health", "description": "存活与数据库连通性。Liveness and reachability of the store."},
    {
        "name": "catalog",
        "description": "数据目录：数据集、指标、表结构、规则与血缘。The catalog: datasets, figures, "
        "schema, rules and lineage.",
    },
    {
        "name": "rows",
        "description": "受控数据查询：按许可、密级与范围脱敏、过滤并审计。A dataset's rows, masked, scoped "
        "and audited by the reader's grant, clearance and organisation.",
    },
    {
        "name": "ogc",
        "description": "OGC API - Features 第 1 部分：空间数据集供 GIS 客户端读取，同样受控。"
        "Spatial datasets for GIS clients, OGC API - Features Part 1, through the same policy.",
    },
    {
        "name": "access",
        "description": "登录、数据申请、审批、开通与授权。Login, access requests, approval, provisioning "
        "and grants.",
    },
]

health = APIRouter(tags=["health"])


@health.get(
    "/healthz",
    summary="Check health",
    response_model=Health,
    responses={
        200: {"description": "The API is up and the operational store answered `SELECT 1`."},
        503: {
            "model": Health,
            "description": "The operational store did not answer: `database` is `unavailable`.",
        },
    },
)
def healthz(request: Request, response: Response) -> Health:
    """Run `SELECT 1` on the operational store: 200 when it answers, 503 when it does not."""
    hub: Hub = request.app.state.hub
    try:
        with hub.store.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: the operational store did not answer", exc_info=True)
        response.status_code = 503
        return Health(status="unavailable", version=dthub.__version__, database="unavailable")
    return Health(status="ok", version=dthub.__version__, database="ok")


def create_app(settings: Settings | None = None, domains: Sequence[Domain] = DOMAINS) -> FastAPI:
    """Open one hub on `settings` (default: from `DTHUB_*`) and serve it; the hub closes on shutdown."""
    hub = Hub.open(settings or Settings(), domains)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            hub.close()

    app = FastAPI(
        title="dthub",
        version=dthub.__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.rate_limiter = RateLimiter(
        per_minute=hub.settings.rate_limit_per_minute, burst=hub.settings.rate_limit_burst
    )
    app.exception_handler(ApiProblem)(_answer_problem)
    app.exception_handler(RequestValidationError)(_answer_invalid)
    app.include_router(health)
    app.include_router(catalog.router)
    app.include_router(rows.router)
    app.include_router(ogc.router)
    app.include_router(access.auth)
    app.include_router(access.router)
    for domain in domains:
        if domain.router is not None:
            app.include_router(domain.router, prefix=f"/api/v1/{domain.name}", tags=[domain.name])
    mount_console(app)  # the operator console at /console/; `/` redirects there
    return app


async def _answer_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
    body = ApiError(error=exc.error, detail=exc.detail)
    return JSONResponse(status_code=exc.status_code, content=body.model_dump(), headers=exc.headers)


async def _answer_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with an `ApiError` body; `detail` names each bad parameter, e.g. `query.limit: Input should
    be less than or equal to 1000`."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
    body = ApiError(error="request.invalid", detail=problems)
    return JSONResponse(status_code=422, content=body.model_dump())
