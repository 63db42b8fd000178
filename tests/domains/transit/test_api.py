"""`POST /api/v1/transit/plan` and its MaaS alias on the real NYC subway feed."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.domains.transit import api as transit_api
from dthub.hub.settings import Settings
from fixtures.hub import REALDATA, need_realdata

TIMES_SQUARE = (40.7557, -73.9870)
BARCLAYS_CENTER = (40.6840, -73.9776)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "from_lat": TIMES_SQUARE[0],
        "from_lon": TIMES_SQUARE[1],
        "to_lat": BARCLAYS_CENTER[0],
        "to_lon": BARCLAYS_CENTER[1],
        "date": "2026-10-07",
        "time": "08:30",
        "feeds": ["nyc_mta/subway"],
        **changes,
    }


@pytest.mark.parametrize("path", ["/api/v1/transit/plan", "/api/v1/maas/plan"])
def test_plan_from_times_square_to_barclays_center_rides_the_subway(settings: Settings, path: str) -> None:
    need_realdata(REALDATA / "gtfs" / "nyc_mta" / "subway.zip")
    with TestClient(create_app(settings)) as client:
        answer = client.post(path, json=body())
    assert answer.status_code == 200, answer.text
    itineraries = answer.json()["plan"]["itineraries"]
    assert itineraries
    fastest = itineraries[-1]
    assert 8 * 3600 + 30 * 60 <= fastest["startTime"] < fastest["endTime"] < 10 * 3600
    assert {leg["mode"] for leg in fastest["legs"]} >= {"WALK", "SUBWAY"}
    times = [(leg["startTime"], leg["endTime"]) for leg in fastest["legs"]]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(times))


def test_unknown_feed_is_404_and_bad_time_is_422(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        missing = client.post("/api/v1/transit/plan", json=body(feeds=["nowhere/none"]))
        bad = client.post("/api/v1/transit/plan", json=body(time="25h"))
    assert (missing.status_code, missing.json()["error"]) == (404, "feed.not_found")
    assert (bad.status_code, bad.json()["error"]) == (422, "request.invalid")


def test_requests_arriving_during_a_timetable_build_wait_for_that_one_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[tuple[Any, ...]] = []

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        time.sleep(0.3)
        return object()

    monkeypatch.setattr(transit_api, "build_timetable", slow_build)
    monkeypatch.setattr(transit_api, "read_feed", lambda path, name: name)
    transit_api._built_timetable.cache_clear()
    key = ((Path("/feeds/concurrent_feed.zip"),), date(2026, 10, 7), 401.0, 1.3)
    with ThreadPoolExecutor(max_workers=4) as pool:
        timetables = list(pool.map(lambda _: transit_api._timetable(*key), range(4)))
    transit_api._built_timetable.cache_clear()

    assert len(builds) == 1
    assert all(t is timetables[0] for t in timetables)
