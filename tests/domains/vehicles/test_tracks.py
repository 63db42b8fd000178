"""Tracks through the sharing layer: precise for a reader cleared for locations, coarsened (coordinates
and times, exactly as the rows API gives them) for one below, refused below the dataset's level."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domains.vehicles.test_api import land_fleet
from dthub.api import create_app
from dthub.domains import DOMAINS
from dthub.domains.vehicles import DOMAIN as VEHICLES
from dthub.domains.vehicles.datasets import ALARMS, LOCATION_REPORTS
from dthub.hub import access_requests, identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow

PASSWORD = "correct horse battery"
PLATE = "津A00000"  # the simulated vehicle 0: 8 fixes 30 s apart from 10:00 local
T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
GENERAL_3_REPORTS = dataclasses.replace(LOCATION_REPORTS, level=Level.GENERAL_3)
"""The dataset as a hub that classifies it general-3 declares it: plates plain from general-3, locations
from general-4 (`hub.access.PII_LEVELS`), so that a general-3 reader gets coarse tracks."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, Hub]]:
    vehicles = dataclasses.replace(VEHICLES, datasets=(GENERAL_3_REPORTS, ALARMS))
    domains = tuple(vehicles if d.name == "vehicles" else d for d in DOMAINS)
    app = create_app(Settings(home=tmp_path / "hub"), domains=domains)
    with TestClient(app) as client:
        hub: Hub = app.state.hub
        asyncio.run(land_fleet(hub, 2, 8))
        identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                            clearance=Level.CORE, by="cli")  # fmt: skip
        yield client, hub


def reader(client: TestClient, hub: Hub, name: str, clearance: Level) -> dict[str, str]:
    """A person of `clearance` granted the location reports; their bearer header."""
    root = identity.consumer(hub.store, "person", "root")
    person = identity.add_person(hub.store, name, name=name, password=PASSWORD, role=Role.ANALYST,
                                 clearance=clearance, by="root")  # fmt: skip
    row = access_requests.request(hub, person, LOCATION_REPORTS.id, purpose="supervision",
                                  expires_at=utcnow() + timedelta(days=1))  # fmt: skip
    access_requests.decide(hub, row.id, root, approve=True, note="ok")
    access_requests.provision(hub, row.id, root)
    token = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def track(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get(f"/api/v1/vehicles/tracks/{PLATE}", params=params, headers=headers)


def test_a_cleared_reader_gets_the_precise_track(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    answer = track(client, reader(client, hub, "cleared", Level.GENERAL_4))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["plate"], body["precise"]) == (PLATE, True)
    assert [p["reported_at"] for p in body["points"]] == [
        (T0 + timedelta(seconds=30 * n)).isoformat().replace("+00:00", "Z") for n in range(8)
    ]
    assert body["points"][3] == {"reported_at": "2025-06-02T02:01:30Z", "lon": 117.149865, "lat": 39.05,
                                 "speed_kmh": 130.0, "direction": 90}  # fmt: skip


def test_a_reader_below_the_location_level_gets_the_track_the_sharing_layer_coarsens(
    served: tuple[TestClient, Hub],
) -> None:
    client, hub = served
    headers = reader(client, hub, "analyst", Level.GENERAL_3)
    answer = track(client, headers, since="2025-06-02T02:01:00+00:00")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["precise"] is False
    # times truncated to 15 min, and the window widened to whole cells: all 8 fixes, none precise
    assert {p["reported_at"] for p in body["points"]} == {"2025-06-02T02:00:00Z"}
    assert len(body["points"]) == 8
    assert all(p["lon"] != 117.149865 for p in body["points"])
    rows = client.get(
        f"/api/v1/datasets/{LOCATION_REPORTS.id}/rows", headers=headers,
        params={"filter": f"plate:eq:{PLATE}", "fields": "reported_at,lon,lat,speed_kmh,direction",
                "sort": "reported_at", "since": "2025-06-02T02:01:00+00:00"},
    ).json()["rows"]  # fmt: skip
    assert body["points"] == rows  # exactly what the sharing layer gives this reader


def test_below_the_dataset_level_or_without_credentials_no_track(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    answer = track(client, reader(client, hub, "clerk", Level.GENERAL_2))
    assert (answer.status_code, answer.json()["error"]) == (403, "access.clearance_below_level")
    answer = client.get(f"/api/v1/vehicles/tracks/{PLATE}", params={"since": "2025-06-02T02:00:00"},
                        headers=reader(client, hub, "cleared", Level.GENERAL_4))  # fmt: skip
    assert (answer.status_code, answer.json()["error"]) == (422, "request.invalid")
    assert client.get(f"/api/v1/vehicles/tracks/{PLATE}").status_code == 401
    answer = client.get("/api/v1/vehicles/tracks/津Z99999", headers=reader(client, hub, "other", Level.CORE))
    assert (answer.status_code, answer.json()["error"]) == (404, "vehicle.not_found")
