"""The demo GBFS feed: stations labelled and inside the city, status consistent with capacity."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from dthub.demo.city import SIMULATED
from dthub.demo.gbfs import station_status, stations, write_feed

MORNING = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)


def test_status_is_deterministic_and_never_exceeds_a_station_capacity() -> None:
    information = stations()
    assert len(information) > 50
    assert all(s["name"].endswith(SIMULATED) for s in information)
    assert all(39.0 < s["lat"] < 39.25 and 117.05 < s["lon"] < 117.35 for s in information)
    status = station_status(information, MORNING)
    assert status == station_status(information, MORNING)
    for info, state in zip(information, status, strict=True):
        bikes = state["num_bikes_available"] + state["num_bikes_disabled"]
        assert bikes + state["num_docks_available"] == info["capacity"]
        assert min(bikes, state["num_docks_available"]) >= 0


def test_the_feed_files_follow_gbfs_2_3(tmp_path: Path) -> None:
    folder = write_feed(tmp_path / "gbfs", MORNING)
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "gbfs.json",
        "system_information.json",
        "station_information.json",
        "station_status.json",
    }
    for name in names:
        document = json.loads((folder / name).read_text())
        assert document["version"] == "2.3"
        assert document["ttl"] > 0
        assert "data" in document
    system = json.loads((folder / "system_information.json").read_text())["data"]
    assert "simulated" in system["name"]
    assert SIMULATED in system["name"]
