"""The app: one hub per app, health of its store, domain routers under `/api/v1/<domain>`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

import dthub
from dthub.api import create_app
from dthub.domains import DOMAINS
from dthub.hub.domain import Domain
from dthub.hub.settings import Settings


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_healthz_is_ok_when_the_store_answers(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": dthub.__version__, "database": "ok"}


def test_healthz_is_503_when_the_store_is_not_a_database(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    app.state.hub.store.dispose()
    for path in settings.home.glob("hub.db*"):
        path.unlink()
    (settings.home / "hub.db").write_bytes(b"not a database\n" * 256)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "version": dthub.__version__,
        "database": "unavailable",
    }


def test_domain_router_is_mounted_under_api_v1_and_its_name(settings: Settings) -> None:
    router = APIRouter()

    @router.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "probe"}

    probe = Domain(name="probe", title_zh="探针", title_en="Probe", datasets=(), router=router)
    with TestClient(create_app(settings, (*DOMAINS, probe))) as client:
        assert client.get("/api/v1/probe/ping").json() == {"pong": "probe"}


def test_shutdown_closes_the_hubs_store_connections(app: FastAPI) -> None:
    with TestClient(app) as client:
        client.get("/healthz")
        assert app.state.hub.store.engine.pool.checkedin() == 1

    assert app.state.hub.store.engine.pool.checkedin() == 0
