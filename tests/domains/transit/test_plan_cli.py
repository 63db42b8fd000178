"""`dthub plan` on the real NYC subway feed: stop ids and coordinates, JSON with fares, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dthub.cli import app as cli
from fixtures.hub import REALDATA, need_realdata

TIMES_SQUARE = "subway:127"
BARCLAYS_CENTER = "40.6840,-73.9776"


def run(home: Path, *args: str) -> tuple[int, str, str]:
    env = {"DTHUB_HOME": str(home), "DTHUB_REALDATA": str(REALDATA)}
    result = CliRunner().invoke(cli, ["plan", *args], env=env, prog_name="dthub")
    return result.exit_code, result.stdout, result.stderr


def test_plan_from_a_stop_id_to_coordinates_prints_priced_itineraries(tmp_path: Path) -> None:
    need_realdata(REALDATA / "gtfs" / "nyc_mta" / "subway.zip")
    common = ["--date", "2026-10-07", "--time", "08:30", "--feed", "nyc_mta/subway"]
    code, out, err = run(tmp_path, TIMES_SQUARE, BARCLAYS_CENTER, *common, "--json")
    assert code == 0, err
    itineraries = json.loads(out)["plan"]["itineraries"]
    assert itineraries
    for itinerary in itineraries:
        assert 8 * 3600 + 30 * 60 <= itinerary["startTime"] < itinerary["endTime"] < 10 * 3600
        assert itinerary["fare"]["fare"]["regular"]["cents"] == 290
    code, table, _ = run(tmp_path, TIMES_SQUARE, BARCLAYS_CENTER, *common)
    assert code == 0
    assert "Itineraries" in table
    assert "$2.90" in table


def test_unknown_stop_feed_or_time_ends_with_one_line_and_code_2(tmp_path: Path) -> None:
    need_realdata(REALDATA / "gtfs" / "nyc_mta" / "subway.zip")
    common = ["--date", "2026-10-07", "--feed", "nyc_mta/subway"]
    assert run(tmp_path, "subway:nowhere", BARCLAYS_CENTER, *common)[0] == 2
    code, _, err = run(tmp_path, TIMES_SQUARE, BARCLAYS_CENTER, "--date", "2026-10-07", "--feed", "nyc/none")
    assert code == 2
    assert "no GTFS feed 'nyc/none'" in err
    code, _, err = run(tmp_path, TIMES_SQUARE, BARCLAYS_CENTER, *common, "--time", "8h30")
    assert code == 2
    assert "HH:MM" in err
