"""`dthub vehicles writer` and `dthub vehicles gateway --no-writer` need a bus other processes read."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dthub.cli import app


@pytest.mark.parametrize("args", [["vehicles", "writer"], ["vehicles", "gateway", "--no-writer"]])
def test_the_writer_apart_is_refused_on_the_memory_bus(args: list[str], tmp_path: Path) -> None:
    env = {"DTHUB_HOME": str(tmp_path / "hub"), "DTHUB_BUS_URL": "memory://", "COLUMNS": "250",
           "NO_COLOR": "1", "TERM": "dumb"}  # fmt: skip

    result = CliRunner().invoke(app, args, env=env, prog_name="dthub")

    assert result.exit_code == 2
    assert "DTHUB_BUS_URL=redis://" in result.output
