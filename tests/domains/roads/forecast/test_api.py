"""The forecast routes over a hub with two real PeMS days, a trained model and refreshed forecasts: each
forecast names its model version, and every read goes through the access policy and the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dthub.api import create_app
from dthub.domains.roads.forecast import job
from dthub.hub import access_requests, identity
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Organisation, Role
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow
from fixtures.forecast import land, train

PASSWORD = "correct horse battery"
ISSUED = "2022-10-12T07:00:00Z"
FORECASTS = "/api/v1/roads/forecasts"


@pytest.fixture
def served(settings: Settings, pems_files: list[Path]) -> Iterator[tuple[TestClient, Hub]]:
    app = create_app(settings.model_copy(update={"forecast_refresh_s": 0}))
    hub: Hub = app.state.hub
    land(hub, pems_files[:2])
    train(hub)
    job.refresh_forecasts(hub, utcnow())  # the lake ends 2022-10-12 07:00: the issue is then
    identity.add_organisation(
        hub.store, Organisation(id="jtw", name="市交通运输委", kind="agency"), by="test"
    )
    for district in ("4", "5"):
        org = Organisation(id=f"d{district}", name=f"区 {district}", kind="district", district_code=district)
        identity.add_organisation(hub.store, org, by="test")
    with TestClient(app) as client:
        yield client, hub


def reader(hub: Hub, name: str, *, role: Role = Role.ANALYST, clearance: Level = Level.GENERAL_2,
           org: str = "jtw", granted: bool = True) -> dict[str, str]:  # fmt: skip
    """A person's bearer header, with a live grant on the forecasts unless `granted` is false."""
    consumer = identity.add_person(hub.store, name, name=name, password=PASSWORD, role=role,
                                   clearance=clearance, organisation_id=org, by="test")  # fmt: skip
    if granted:
        root = identity.add_person(hub.store, f"{name}-steward", name="s", password=PASSWORD,
                                   role=Role.ADMIN, clearance=Level.CORE, by="test")  # fmt: skip
        row = access_requests.request(hub, consumer, "roads.segment_forecasts", purpose="forecast test",
                                      expires_at=utcnow() + timedelta(days=1))  # fmt: skip
        access_requests.decide(hub, row.id, root, approve=True, note="ok")
        access_requests.provision(hub, row.id, root)
    token = identity.login(hub.store, name, PASSWORD).text
    return {"Authorization": f"Bearer {token}"}


def test_forecasts_name_the_model_version_that_made_them(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    headers = reader(hub, "analyst")

    answer = client.get(FORECASTS, headers=headers)

    assert answer.status_code == 200
    rows = answer.json()
    assert len(rows) == 16
    assert {row["issued_at"] for row in rows} == {ISSUED}
    assert {(row["model_id"], row["model_name"], row["model_version"]) for row in rows} == {
        ("historical_average-v1", "historical_average", 1)
    }
    first = rows[0]
    assert first["segment_id"] == "pems:401833"
    assert (first["horizon_steps"], first["horizon_minutes"], first["target_time"]) == (1, 15, ISSUED)
    assert 20 < first["speed_kmh"] < 130

    one = client.get(FORECASTS, headers=headers, params={"segment": "pems:404531", "horizon": 3}).json()
    assert [(row["segment_id"], row["horizon_steps"], row["target_time"]) for row in one] == [
        ("pems:404531", 3, "2022-10-12T07:30:00Z")
    ]
    before = client.get(FORECASTS, headers=headers, params={"issued_until": ISSUED}).json()
    assert before == []
    reads = select(AuditLogRow).where(AuditLogRow.actor == "person:analyst")
    with hub.store.session() as session:
        audited = [e.detail["rows"] for e in session.scalars(reads) if e.detail.get("step") == "rows"]
    assert audited[-3:] == [16, 1, 0]


def test_a_new_version_issues_and_the_route_serves_the_latest(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    train(hub, period="week")
    job.refresh_forecasts(hub, utcnow())
    headers = reader(hub, "analyst")

    latest = client.get(FORECASTS, headers=headers, params={"horizon": 1}).json()
    newest = client.get(
        FORECASTS, headers=headers, params={"horizon": 1, "model_id": "historical_average-v2"}
    )

    assert sorted({row["model_version"] for row in latest}) == [1, 2]  # both issued at the latest issue
    assert len(latest) == 8
    assert {row["model_id"] for row in newest.json()} == {"historical_average-v2"}
    assert len(newest.json()) == 4
    by_name = client.get(
        FORECASTS, headers=headers, params={"model": "historical_average", "latest": "false"}
    )
    assert len(by_name.json()) == 32


def test_readers_get_what_the_access_policy_allows(served: tuple[TestClient, Hub]) -> None:
    client, hub = served

    low = client.get(FORECASTS, headers=reader(hub, "low", clearance=Level.GENERAL_1))
    ungranted = client.get(FORECASTS, headers=reader(hub, "nogrant", granted=False))
    own = client.get(FORECASTS, headers=reader(hub, "district4", org="d4"))
    other = client.get(FORECASTS, headers=reader(hub, "district5", org="d5"))
    anonymous = client.get(FORECASTS)

    assert (low.status_code, low.json()["error"]) == (403, "access.clearance_below_level")
    assert (ungranted.status_code, ungranted.json()["error"]) == (403, "access.no_grant")
    assert own.status_code == 200
    assert len(own.json()) == 16
    assert (other.status_code, other.json()) == (200, [])
    assert anonymous.status_code == 401


def test_the_registry_route_shows_metrics_and_lineage(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    train(hub, period="week")
    headers = reader(hub, "operator", role=Role.OPERATOR)

    models = client.get("/api/v1/roads/forecast-models", headers=headers).json()
    active = client.get("/api/v1/roads/forecast-models", headers=headers, params={"status": "active"}).json()

    assert [(m["id"], m["status"]) for m in models] == [
        ("historical_average-v2", "active"), ("historical_average-v1", "retired"),
    ]  # fmt: skip
    assert [m["id"] for m in active] == ["historical_average-v2"]
    model = models[0]
    assert (model["params"], model["step_minutes"], model["horizons"], model["segments"]) == (
        {"period": "week"},
        15,
        4,
        4,
    )
    assert [h["horizon"] for h in model["metrics"]["per_horizon"]] == [1, 2, 3, 4]
    assert model["metrics"]["overall"]["mae"] > 0
    assert {item["dataset_id"] for item in model["inputs"]} == {
        "roads.detector_observations",
        "roads.detector_segments",
    }
    assert client.get("/api/v1/roads/forecast-models").status_code == 401
    assert (
        client.get("/api/v1/roads/forecast-models", headers=headers, params={"status": "x"}).status_code
        == 422
    )


def test_the_server_refreshes_forecasts_on_its_schedule(settings: Settings, pems_files: list[Path]) -> None:
    app = create_app(settings.model_copy(update={"forecast_refresh_s": 1}))
    hub: Hub = app.state.hub
    land(hub, pems_files[:2])
    train(hub)
    with TestClient(app):
        for _ in range(600):  # up to a minute on a loaded machine; no timing is asserted
            if hub.files("roads.segment_forecasts"):
                break
            time.sleep(0.1)
    assert len(hub.files("roads.segment_forecasts")) == 1


def test_a_time_outside_the_calendar_is_refused(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    answer = client.get(
        FORECASTS, headers=reader(hub, "analyst"), params={"issued_since": "9999-12-31T23:59:59-12:00"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "request.invalid"
