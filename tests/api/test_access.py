"""Access requests over HTTP: filed, decided by the dataset's own steward, provisioned, listed, revoked.

A data steward stewards the datasets in their scopes: the vehicles steward decides vehicle requests and is
refused on a roads request (403 `access.not_its_steward`), which the roads steward decides instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow

PASSWORD = "correct horse battery"
PEOPLE = {
    "root": (Role.ADMIN, ("*",)),
    "vehicles-steward": (Role.DATA_STEWARD, ("vehicles.*",)),
    "roads-steward": (Role.DATA_STEWARD, ("roads.*",)),
    "analyst": (Role.ANALYST, ("*",)),
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    hub: Hub = app.state.hub
    for name, (role, scopes) in PEOPLE.items():
        identity.add_person(hub.store, name, name=name, password=PASSWORD, role=role,
                            clearance=Level.IMPORTANT, scopes=scopes, by="cli")  # fmt: skip
    with TestClient(app) as served:
        yield served


def as_(client: TestClient, name: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def file(client: TestClient, dataset_id: str) -> int:
    body = {
        "dataset_id": dataset_id,
        "purpose": "运行监测 monitoring",
        "expires_at": (utcnow() + timedelta(days=30)).isoformat(),
    }
    answer = client.post("/api/v1/access/requests", json=body, headers=as_(client, "analyst"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "pending"
    return int(answer.json()["id"])


def test_each_dataset_is_decided_by_its_own_steward(client: TestClient) -> None:
    vehicles, roads = file(client, "vehicles.location_reports"), file(client, "roads.segments")
    vehicles_steward, roads_steward = as_(client, "vehicles-steward"), as_(client, "roads-steward")

    refused = client.post(
        f"/api/v1/access/requests/{roads}/approve", json={"note": "ok"}, headers=vehicles_steward
    )
    approved = client.post(
        f"/api/v1/access/requests/{vehicles}/approve", json={"note": "监管"}, headers=vehicles_steward
    )
    cross_provision = client.post(f"/api/v1/access/requests/{vehicles}/provision", headers=roads_steward)
    provisioned = client.post(f"/api/v1/access/requests/{vehicles}/provision", headers=vehicles_steward)
    rejected = client.post(
        f"/api/v1/access/requests/{roads}/reject", json={"note": "不需要"}, headers=roads_steward
    )

    assert (refused.status_code, refused.json()["error"]) == (403, "access.not_its_steward")
    assert (approved.status_code, approved.json()["decided_by"]) == (200, "person:vehicles-steward")
    assert (cross_provision.status_code, cross_provision.json()["error"]) == (403, "access.not_its_steward")
    assert provisioned.status_code == 200
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")

    grant = provisioned.json()["id"]
    assert client.post(f"/api/v1/access/grants/{grant}/revoke", headers=roads_steward).status_code == 403
    revoked = client.post(f"/api/v1/access/grants/{grant}/revoke", headers=vehicles_steward)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None


def test_stewards_list_the_requests_of_their_datasets_and_the_admin_all(client: TestClient) -> None:
    vehicles, roads = file(client, "vehicles.location_reports"), file(client, "roads.segments")

    def listed(name: str) -> list[int]:
        answer = client.get("/api/v1/access/requests", headers=as_(client, name))
        assert answer.status_code == 200
        return [row["id"] for row in answer.json()]

    assert listed("vehicles-steward") == [vehicles]
    assert listed("roads-steward") == [roads]
    assert listed("root") == listed("analyst") == [roads, vehicles]


def test_the_admin_decides_any_dataset_and_nobody_their_own(client: TestClient) -> None:
    roads = file(client, "roads.segments")
    root = as_(client, "root")
    analyst_self = client.post(
        f"/api/v1/access/requests/{roads}/approve", json={"note": "me"}, headers=as_(client, "analyst")
    )

    approved = client.post(f"/api/v1/access/requests/{roads}/approve", json={"note": "ok"}, headers=root)

    assert (analyst_self.status_code, analyst_self.json()["error"]) == (403, "access.not_steward")
    assert approved.status_code == 200
