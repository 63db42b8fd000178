"""The demo GTFS feed: valid for the validator, labelled, Chinese stop names, and plannable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dthub.demo.city import SIMULATED
from dthub.demo.gtfs import FEED_NAME, feed_files, write_feed
from dthub.domains.transit.gtfs import read_feed
from dthub.domains.transit.plan import plan
from dthub.domains.transit.timetable import build_timetable
from dthub.domains.transit.validate import validate

DAY = date(2026, 11, 25)


def test_the_feed_is_deterministic_and_the_validator_finds_nothing(tmp_path: Path) -> None:
    assert feed_files(DAY) == feed_files(DAY)
    feed = read_feed(write_feed(tmp_path / FEED_NAME, DAY))
    assert validate(feed, today=DAY) == []
    routes = feed.get("routes.txt").to_pylist()
    assert {r["route_type"] for r in routes} == {"1", "3"}
    assert all(r["route_long_name"].endswith(SIMULATED) for r in routes)
    assert all(SIMULATED in a["agency_name"] for a in feed.get("agency.txt").to_pylist())
    names = [s["stop_name"] for s in feed.get("stops.txt").to_pylist()]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names)


def test_a_trip_across_the_city_is_planned_on_metro_and_bus(tmp_path: Path) -> None:
    feed = read_feed(write_feed(tmp_path / FEED_NAME, DAY))
    timetable = build_timetable([feed], DAY)
    answer = plan(timetable, (39.20, 117.20), (39.05, 117.20), 8 * 3600)
    itineraries = answer["plan"]["itineraries"]
    assert itineraries
    modes = {leg["mode"] for it in itineraries for leg in it["legs"]}
    assert "SUBWAY" in modes or "BUS" in modes
