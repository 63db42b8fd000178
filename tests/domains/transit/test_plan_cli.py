"""`dthub plan` on a landed feed (Cairns, read back from `transit.*` as the planner's service identity):
refused until `dthub access planner` provisions it, then stop ids and coordinates, the plan JSON or a table
(no fare table covers Cairns: its itineraries are unpriced, `-`), clear refusals for an unknown stop, time
or feed (listing the landed ones). `dthub ingest -a gtfsrt.trip_updates --source cairns` lands TripUpdates
that the planner reads and applies, absolute times in the feed's own time zone (Australia/Brisbane, from
its landed agency.txt, not the hub's Asia/Shanghai)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from google.transit import gtfs_realtime_pb2 as rt
from typer.testing import CliRunner

from dthub.cli import app as cli
from dthub.domains import DOMAINS
from dthub.domains.transit.landed import landed_feed, landed_systems, planner, trip_updates
from dthub.domains.transit.realtime import Schedule
from dthub.domains.transit.realtime_apply import apply_trip_updates
from dthub.domains.transit.timetable import Timetable, build_timetable
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings
from fixtures.hub import REALDATA, need_realdata
from fixtures.planner import BOULDER_GBFS, land_feeds

CAIRNS = REALDATA / "gtfs" / "gtfs_kit" / "cairns_gtfs.zip"
DAY = date(2014, 6, 4)
WARREN_ST, THE_PIER = "cairns:750337", "750449"
"""First and last stop of trip CNS2014-CNS_MUL-Weekday-00-4165878 (05:50 from Warren St)."""
TRIP = "CNS2014-CNS_MUL-Weekday-00-4165878"
THE_PIER_AT = "-16.9209,145.7793"
"""A few metres from its stop E (after `--`: a negative latitude is not an option)."""
ADMIN = "root"


def run(home: Path, command: str, *args: str) -> tuple[int, str, str]:
    env = {"DTHUB_HOME": str(home), "DTHUB_REALDATA": str(REALDATA)}
    result = CliRunner().invoke(cli, [command, *args], env=env, prog_name="dthub")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub with Cairns landed as `cairns` and an admin; the planner not yet provisioned."""
    folder = tmp_path_factory.mktemp("plan-cli") / "hub"
    hub = Hub.open(Settings(home=folder), DOMAINS)
    try:
        land_feeds(hub, {"cairns": need_realdata(CAIRNS)})
        identity.add_person(hub.store, ADMIN, name=ADMIN, password="correct horse battery",
                            role=Role.ADMIN, clearance=Level.CORE, by="cli")  # fmt: skip
    finally:
        hub.close()
    return folder


COMMON = ("--date", DAY.isoformat(), "--time", "05:45", "--feed", "cairns")


def test_plan_is_refused_until_the_planner_is_provisioned_then_prints_priced_itineraries(home: Path) -> None:
    code, _, err = run(home, "plan", WARREN_ST, THE_PIER, *COMMON)
    assert code == 1
    assert "dthub access planner" in err
    assert run(home, "access", "planner", "--as", f"person:{ADMIN}")[0] == 0
    code, out, err = run(home, "plan", WARREN_ST, THE_PIER, *COMMON, "--json")
    assert code == 0, err
    itineraries = json.loads(out)["plan"]["itineraries"]
    assert itineraries
    for itinerary in itineraries:
        assert 5 * 3600 + 45 * 60 <= itinerary["startTime"] < itinerary["endTime"] < 8 * 3600
        assert itinerary["fare"] is None  # no fare system of fare_tables/ prices Cairns' buses
    assert any(
        leg.get("tripId") == f"cairns:{TRIP}" for itinerary in itineraries for leg in itinerary["legs"]
    )
    code, table, err = run(home, "plan", *COMMON, "--", WARREN_ST, THE_PIER_AT)
    assert code == 0, err
    assert "Itineraries" in table
    assert "The Pier" in table


def test_unknown_stop_feed_or_time_ends_with_one_line_and_code_2(home: Path) -> None:
    assert run(home, "access", "planner", "--as", f"person:{ADMIN}")[0] == 0  # idempotent
    code, _, err = run(home, "plan", "cairns:nowhere", THE_PIER, *COMMON)
    assert code == 2
    assert "no stop 'cairns:nowhere'" in err
    code, _, err = run(
        home, "plan", WARREN_ST, THE_PIER, "--date", DAY.isoformat(), "--feed", "nyc_mta/subway"
    )
    assert code == 2
    assert "no landed GTFS feed 'nyc_mta/subway'; landed: cairns" in " ".join(err.split())
    code, _, err = run(home, "plan", WARREN_ST, THE_PIER, *COMMON, "--time", "8h30")
    assert code == 2
    assert "HH:MM" in err


def where(tt: Timetable, index: int) -> tuple[int, int]:
    """(position, row) of the `index`-th stop of trip TRIP in `tt`."""
    trip = list(tt.trip_ids).index(f"cairns:{TRIP}")
    pattern = int(np.searchsorted(tt.pattern_trip_start, trip, side="right") - 1)
    return int(tt.pattern_start[pattern]) + index, trip - int(tt.pattern_trip_start[pattern])


def test_trip_updates_ingested_for_a_feed_are_applied_in_its_time_zone(home: Path, tmp_path: Path) -> None:
    """A FeedMessage sent at 06:00 in Cairns: the trip 4 min late at its 3rd stop, as an absolute time."""
    assert run(home, "access", "planner", "--as", f"person:{ADMIN}")[0] == 0  # idempotent
    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        feed = landed_feed(hub, planner(hub), "cairns")
    finally:
        hub.close()
    scheduled = build_timetable([feed], DAY, walk_radius_m=400)
    third, row = where(scheduled, 2)
    stop = str(scheduled.stop_ids[scheduled.position_stop[third]]).removeprefix("cairns:")
    schedule = Schedule(feed)
    assert str(schedule.timezone) == "Australia/Brisbane"  # the hub's setting is Asia/Shanghai
    late_at = schedule.day_origin(DAY) + scheduled.times(third, row)[0] + 240
    sent = datetime(2014, 6, 3, 20, 0, tzinfo=UTC)  # 06:00 in Cairns (UTC+10)
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = int(sent.timestamp())
    entity = message.entity.add()
    entity.id = "constructed-cairns-1"
    entity.trip_update.trip.trip_id = TRIP
    entity.trip_update.trip.start_date = "20140604"
    update = entity.trip_update.stop_time_update.add()
    update.stop_id = stop
    update.arrival.time = late_at
    pb = tmp_path / "cairns-trip-updates-20140603T2000Z.pb"
    pb.write_bytes(message.SerializeToString())

    assert run(home, "ingest", "-a", "gtfsrt.trip_updates", "--source", "../x", str(pb))[0] == 2
    code, _, err = run(home, "ingest", "-a", "gtfs.stops", "--source", "cairns", str(CAIRNS))
    assert code == 2
    assert "takes no --source" in err
    code, out, err = run(home, "ingest", "-a", "gtfsrt.trip_updates", "--source", "cairns", "--json", str(pb))
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["landed"] == 1

    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        consumer = planner(hub)
        at = sent + timedelta(seconds=5)
        updates = trip_updates(hub, consumer, "cairns", at, max_age_s=600)
        assert trip_updates(hub, consumer, "gtfsrt", at, max_age_s=600) == []
    finally:
        hub.close()
    assert [u.trip.trip_id for u in updates] == [TRIP]
    applied = apply_trip_updates(scheduled, updates, static=feed)
    assert applied.updated == 1
    late, late_row = where(applied.timetable, 2)
    assert applied.timetable.times(late, late_row)[0] == scheduled.times(third, row)[0] + 240


def test_ingest_source_names_the_bike_share_system(home: Path) -> None:
    assert run(home, "access", "planner", "--as", f"person:{ADMIN}")[0] == 0  # idempotent
    information = need_realdata(BOULDER_GBFS / "station_information.json")
    code, out, err = run(home, "ingest", "-a", "gbfs.station_information", "--source", "boulder", "--json",
                         str(information))  # fmt: skip
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["landed"] > 0
    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        assert landed_systems(hub, planner(hub)) == ["boulder"]
    finally:
        hub.close()
