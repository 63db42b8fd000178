"""`dthub access`: an organisation, a steward, an application with a key, and a request through to a grant."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from dthub.cli import app


def test_request_is_approved_then_provisioned_and_the_key_rotates(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DTHUB_HOME": str(tmp_path / "hub"), "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}

    def dthub(*args: str, stdin: str | None = None) -> str:
        result = runner.invoke(app, list(args), env=env, input=stdin, prog_name="dthub")
        assert result.exit_code == 0, result.output
        return result.output

    dthub("access", "org-add", "bus-co", "--name", "公交集团", "--kind", "company", "--vehicle", "津A12345")
    dthub("access", "person-add", "wang", "--role", "data_steward", "--clearance", "core",
          "--password", "steward-password", "--scope", "roads.*")  # fmt: skip
    dthub("access", "person-add", "li", "--role", "data_steward", "--clearance", "core",
          "--password", "steward-password", "--scope", "vehicles.*", "--scope", "transit.*")  # fmt: skip
    key = re.search(r"dthk_\w+", dthub("access", "app-add", "fleet", "--clearance", "general-2",
                                        "--org", "bus-co"))  # fmt: skip
    assert key is not None
    dthub("access", "request", "roads.detector_stations", "--consumer", "application:fleet",
          "--purpose", "route planning", "--until", "2099-01-01T00:00:00+08:00")  # fmt: skip
    not_its_steward = runner.invoke(
        app, ["access", "approve", "1", "--as", "person:li", "--note", "mine?"], env=env
    )
    assert not_its_steward.exit_code == 1
    assert "access.not_its_steward" in not_its_steward.output
    dthub("access", "approve", "1", "--as", "person:wang", "--note", "public data")
    dthub("access", "provision", "1", "--as", "person:wang")
    rotated = dthub("access", "key-rotate", key.group().split("_")[1])

    listed = json.loads(dthub("access", "list", "--json"))
    assert [(r["status"], r["decided_by"]) for r in listed["requests"]] == [("provisioned", "person:wang")]
    assert [(g["consumer"], g["dataset"]) for g in listed["grants"]] == [
        ("application:fleet", "roads.detector_stations")
    ]
    assert "dthk_" in rotated
    refused = runner.invoke(
        app, ["access", "approve", "1", "--as", "person:wang", "--note", "again"], env=env
    )
    assert refused.exit_code == 1
