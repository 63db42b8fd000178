"""`GET /api/v1/transit/avl/*` over the real Capital Metro positions landed through the hub: governed,
audited reads, documented refusals."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dthub.api import create_app
from dthub.domains.transit import avl_api
from dthub.domains.transit.realtime_ingest import CapMetricsPositions
from dthub.hub import identity
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.ingest import ingest_file
from dthub.hub.settings import Settings
from fixtures.hub import REALDATA, need_realdata

PASSWORD = "correct horse battery"
DAY = {"source": "capmetro", "date": "2017-04-18"}


def test_avl_routes_answer_from_governed_reads(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        hub: Hub = app.state.hub
        ingest_file(
            hub, CapMetricsPositions(), need_realdata(REALDATA / "transit_avl/capmetro_austin/2017-04-18.csv")
        )
        identity.add_person(hub.store, "ops", name="ops", password=PASSWORD, role=Role.ADMIN,
                            clearance=Level.CORE, by="cli")  # fmt: skip
        token = client.post("/api/v1/auth/login", json={"username": "ops", "password": PASSWORD}).json()[
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/transit/avl/on-time", params=DAY).status_code == 401
        missing = client.get(
            "/api/v1/transit/avl/on-time", params={**DAY, "source": "nowhere"}, headers=headers
        )
        assert (missing.status_code, missing.json()["error"]) == (404, "avl.not_found")
        bad = client.get(
            "/api/v1/transit/avl/headways", params={**DAY, "start": "22:00", "end": "18:00"}, headers=headers
        )
        assert (bad.status_code, bad.json()["error"]) == (422, "request.invalid")
        on_time = client.get("/api/v1/transit/avl/on-time", params=DAY, headers=headers)
        headways = client.get(
            "/api/v1/transit/avl/headways",
            params={**DAY, "start": "18:00", "end": "22:00", "route": "801"},
            headers=headers,
        )
        transfers = client.get("/api/v1/transit/avl/transfers", params=DAY, headers=headers)
        # the bike path, with a GBFS system of another city: no Austin stop has a Boulder station near
        boulder = dataclasses.replace(avl_api.AVL_SOURCES["capmetro"], bikeshare="boulder_bcycle_gbfs")
        monkeypatch.setitem(avl_api.AVL_SOURCES, "capmetro", boulder)
        elsewhere = client.get("/api/v1/transit/avl/transfers", params=DAY, headers=headers)
        with hub.store.session() as session:
            reads = session.scalars(
                select(AuditLogRow).where(AuditLogRow.target == "transit.vehicle_positions")
            ).all()
    assert on_time.status_code == 200, on_time.text
    body = on_time.json()
    assert body["coverage"]["fixes"] > 44_000
    assert body["coverage"]["schedule_period"].startswith("2016-08-21/2017-01-21")
    overall = body["overall"]
    assert abs(overall["early"] + overall["on_time"] + overall["late"] - 1.0) < 1e-9
    assert {r["route"] for r in body["routes"]} >= {"1", "801", "803"}
    assert headways.status_code == 200, headways.text
    stops = headways.json()["stops"]
    assert stops
    assert {s["route"] for s in stops} == {"801"}
    assert transfers.status_code == 200, transfers.text
    modes = {m["modes"]: m for m in transfers.json()["modes"]}
    assert modes["BUS->BUS"]["connections"] > 100
    assert "BUS->RAIL" in modes
    assert transfers.json()["bike"] is None  # no Austin GBFS in the shared data
    assert elsewhere.json()["bike"] == {
        "system": "boulder_bcycle_gbfs",
        "arrivals": 0,
        "made": None,
        "unknown": 0,
    }
    # each answer: an access decision and an audited read of the rows
    assert sum(r.detail.get("step") == "rows" for r in reads) == 4
