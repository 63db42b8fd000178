"""The KPI route over a simulated fleet landed through the gateway and the writer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from typer.testing import CliRunner

import fixtures.fleet
from dthub.api import create_app
from dthub.cli import app as cli
from dthub.domains.vehicles.simulator import ENTERPRISE
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin, 2025-06-02
PASSWORD = "correct horse battery"


async def land_fleet(hub: Hub, vehicles: int, fixes: int) -> None:
    await fixtures.fleet.land_fleet(hub, vehicles=vehicles, fixes=fixes, start=T0)


def test_daily_kpis_of_a_simulated_fleet_by_api_and_cli(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        hub: Hub = app.state.hub
        asyncio.run(land_fleet(hub, 5, 8))
        identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                            clearance=Level.CORE, by="cli")  # fmt: skip
        login = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        assert client.get("/api/v1/vehicles/kpis", params={"day": "2025-06-02"}).status_code == 401
        assert client.get("/api/v1/vehicles/kpis", params={"day": "June"}, headers=headers).status_code == 422
        answer = client.get("/api/v1/vehicles/kpis", params={"day": "2025-06-02"}, headers=headers)
    assert answer.status_code == 200, answer.text
    # 5 coaches x 8 fixes 30 s apart, all driving; vehicle 3 drifts once (its jump and back: 2 alarms),
    # vehicle 0 speeds: 3 violations
    assert answer.json() == [
        {"enterprise": ENTERPRISE, "day": "2025-06-02", "vehicles": 5, "online": 5, "online_rate": 1.0,
         "fixes": 40, "driving_fixes": 35, "expected_fixes": 35, "track_completeness": 1.0,
         "qualified_fixes": 40, "data_qualified_rate": 1.0, "drift_fixes": 1, "drift_rate": 0.025,
         "violations": 3, "violations_per_100": 60.0}
    ]  # fmt: skip
    command = ["vehicles", "kpis", "--day", "2025-06-02"]
    printed = CliRunner().invoke(cli, command, env={"DTHUB_HOME": str(settings.home)}, prog_name="dthub")
    assert [json.loads(line) for line in printed.stdout.splitlines()] == answer.json()
