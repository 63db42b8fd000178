"""`dthub access planner`: the trip planner's service identity provisioned through the access workflow by a
steward, idempotently; refused for someone who is not one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dthub.cli import app as cli
from dthub.domains import DOMAINS
from dthub.domains.transit.landed import PLANNER_DATASETS, PLANNER_ID, PURPOSE, planner
from dthub.hub import access_requests, identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings


def run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["access", "planner", *args], env={"DTHUB_HOME": str(home)})
    return result.exit_code, result.stdout + result.stderr


def test_a_steward_provisions_the_planner_once_and_an_analyst_cannot(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    hub = Hub.open(Settings(home=home), DOMAINS)
    for person, role in (("root", Role.ADMIN), ("li", Role.ANALYST)):
        identity.add_person(hub.store, person, name=person, password="correct horse battery", role=role,
                            clearance=Level.CORE, by="cli")  # fmt: skip
    hub.close()

    code, out = run(home, "--as", "person:li")
    assert code == 1, out
    assert "access.not_steward" in out
    code, out = run(home, "--as", "person:root")
    assert code == 0, out
    assert f"application:{PLANNER_ID}: {len(PLANNER_DATASETS)} grants made" in out
    code, out = run(home, "--as", "person:root")
    assert code == 0, out
    assert f"application:{PLANNER_ID}: 0 grants made" in out

    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        assert planner(hub).actor == f"application:{PLANNER_ID}"
        requests = access_requests.requests(hub, consumer=f"application:{PLANNER_ID}")
        assert sorted(r.dataset_id for r in requests) == sorted(spec.id for spec in PLANNER_DATASETS)
        assert {(r.purpose, r.status, r.decided_by) for r in requests} == {
            (PURPOSE, "provisioned", "person:root")
        }
    finally:
        hub.close()
