"""GTFS feeds through the hub's ingest path: good rows land, rows that break references, required fields or
types are quarantined with the validator's code, every finding is landed; on a hand-made broken feed and on
real feeds, through `ingest_feed` and through `dthub ingest`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from dthub.cli import app
from dthub.domains.transit.gtfs import feed_bytes
from dthub.domains.transit.ingest.gtfs import GtfsStops, ingest_feed
from dthub.hub import quarantine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_bytes
from fixtures.hub import REALDATA, need_realdata

BROKEN = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "D1,Demo,https://example.org,Asia/Shanghai\n"
    "D2,Other,https://example.org,Mars/Olympus\n",  # row 2: not an IANA time zone
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,parent_station\n"
    "A,Alpha, 39.10,117.20,\n"
    "B,Beta,39.11,117.21,\n"
    "C,Gamma,north,117.22,\n"  # row 3: not a number
    "D,Delta,39.12,117.23,P\n"  # row 4: unknown parent station
    "E,Epsilon,95.0,117.24,\n",  # row 5: a latitude out of range (the dataset's rule)
    "routes.txt": "route_id,route_short_name,route_type\nR1,1,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\nR9,WK,T2\n",  # T2: unknown route
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,08:00:00,08:00:00,A,1\n"
    "T1,,,B,2\n"  # a blank time between timepoints: lands, the timetable interpolates it
    "T1,08:10:00,08:10:00,Z,3\n"  # row 3: unknown stop
    "T1,8h15,08:15:00,A,4\n"  # row 4: not a time
    "T1,08:20:00,08:20:00,,5\n"  # row 5: no stop
    "T1,08:25:00,08:25:00,A,5\n"  # row 6: the same (trip, sequence) again
    "T9,08:00:00,08:00:00,A,1\n",  # row 7: unknown trip
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20260101,20991231\n",
    "transfers.txt": "from_stop_id,to_stop_id,transfer_type,min_transfer_time\n"
    "A,B,2,180\n"
    "A,Z,2,180\n"  # row 2: unknown stop
    "B,A,9,\n"  # row 3: not a transfer type
    "B,B,x,\n",  # row 4: not an integer
}


@pytest.fixture
def broken_feed(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir()
    for name, text in BROKEN.items():
        (folder / name).write_text(text)
    return folder


def quarantined(hub: Hub, dataset: str) -> list[tuple[int | None, str]]:
    records = quarantine.list_records(hub, dataset=dataset, limit=100).records
    return sorted((r.location, r.reason) for r in records)


def test_broken_feed_lands_good_rows_and_quarantines_the_rest_with_the_validator_code(
    hub: Hub, broken_feed: Path
) -> None:
    results = {r.dataset: r for r in ingest_feed(hub, broken_feed)}
    assert {d: (r.read, r.landed, r.quarantined) for d, r in results.items()} == {
        "transit.stops": (5, 2, 3),
        "transit.routes": (1, 1, 0),
        "transit.trips": (2, 1, 1),
        "transit.stop_times": (7, 2, 5),
        "transit.calendar": (1, 1, 0),
        "transit.calendar_dates": (0, 0, 0),
        "transit.agencies": (2, 1, 1),
        "transit.transfers": (4, 1, 3),
        "transit.gtfs_findings": (10, 10, 0),
    }
    assert quarantined(hub, "transit.agencies") == [(2, "rule.timezone_known")]
    assert quarantined(hub, "transit.transfers") == [
        (2, "gtfs.foreign_key_violation"),
        (3, "rule.transfer_type_in_range"),
        (4, "gtfs.invalid_integer"),
    ]
    agencies = hub.table("transit.agencies", hub.connect()).to_pyarrow()
    assert agencies.select(["agency_id", "feed", "name", "timezone"]).to_pylist() == [
        {"agency_id": "demo:D1", "feed": "demo", "name": "Demo", "timezone": "Asia/Shanghai"}
    ]
    transfers = hub.table("transit.transfers", hub.connect()).to_pyarrow()
    assert transfers.select(["from_stop_id", "to_stop_id", "from_trip_id", "transfer_type",
                             "min_transfer_time", "feed"]).to_pylist() == [
        {"from_stop_id": "demo:A", "to_stop_id": "demo:B", "from_trip_id": None, "transfer_type": 2,
         "min_transfer_time": 180, "feed": "demo"}
    ]  # fmt: skip
    assert quarantined(hub, "transit.stops") == [
        (3, "gtfs.invalid_float"),
        (4, "gtfs.foreign_key_violation"),
        (5, "rule.stop_lat_in_range"),
    ]
    assert quarantined(hub, "transit.trips") == [(2, "gtfs.foreign_key_violation")]
    assert quarantined(hub, "transit.stop_times") == [
        (3, "gtfs.foreign_key_violation"),
        (4, "gtfs.invalid_time"),
        (5, "gtfs.missing_required_field"),
        (6, "gtfs.duplicate_key"),
        (7, "gtfs.foreign_key_violation"),
    ]
    record = quarantine.list_records(hub, dataset="transit.stop_times", reason="gtfs.invalid_time").records[0]
    assert record.detail == "arrival_time: '8h15'"
    assert json.loads(record.raw) == {
        "feed": "demo",
        "file": "stop_times.txt",
        "row": 4,
        "values": {
            "trip_id": "T1",
            "arrival_time": "8h15",
            "departure_time": "08:15:00",
            "stop_id": "A",
            "stop_sequence": "4",
        },
    }
    stop_times = hub.table("transit.stop_times", hub.connect()).to_pyarrow().sort_by("stop_sequence")
    assert stop_times.select(["trip_id", "stop_sequence", "stop_id", "arrival_s"]).to_pylist() == [
        {"trip_id": "demo:T1", "stop_sequence": 1, "stop_id": "demo:A", "arrival_s": 8 * 3600},
        {"trip_id": "demo:T1", "stop_sequence": 2, "stop_id": "demo:B", "arrival_s": None},
    ]
    stops = hub.table("transit.stops", hub.connect()).to_pyarrow()
    assert sorted(stops["stop_id"].to_pylist()) == ["demo:A", "demo:B"]
    assert stops.filter(pc.equal(stops["stop_id"], "demo:A"))["stop_lat"].to_pylist() == [39.10]
    findings = hub.table("transit.gtfs_findings", hub.connect()).to_pyarrow().sort_by("number")
    assert [(f["code"], f["severity"], f["file"], f["row"], f["field"]) for f in findings.to_pylist()] == [
        ("invalid_float", "ERROR", "stops.txt", 3, "stop_lat"),
        ("foreign_key_violation", "ERROR", "stops.txt", 4, "parent_station"),
        ("foreign_key_violation", "ERROR", "trips.txt", 2, "route_id"),
        ("missing_required_field", "ERROR", "stop_times.txt", 5, "stop_id"),
        ("invalid_time", "ERROR", "stop_times.txt", 4, "arrival_time"),
        ("duplicate_key", "ERROR", "stop_times.txt", 6, "trip_id,stop_sequence"),
        ("foreign_key_violation", "ERROR", "stop_times.txt", 7, "trip_id"),
        ("foreign_key_violation", "ERROR", "stop_times.txt", 3, "stop_id"),
        ("invalid_integer", "ERROR", "transfers.txt", 4, "transfer_type"),
        ("foreign_key_violation", "ERROR", "transfers.txt", 2, "to_stop_id"),
    ]  # a transfer_type out of 0-5 and an unknown time zone are refused by the datasets' rules


def test_a_fixed_record_replays_and_lands(hub: Hub, broken_feed: Path) -> None:
    ingest_feed(hub, broken_feed)
    record = quarantine.list_records(hub, dataset="transit.stop_times", reason="gtfs.invalid_time").records[0]
    fixed = record.raw.replace("8h15", "08:15:00")
    result = quarantine.replay(hub, record.id, raw=fixed)
    assert (result.landed, result.quarantined) == (1, 0)
    stop_times = hub.table("transit.stop_times", hub.connect()).to_pyarrow()
    assert pc.max(stop_times["arrival_s"]).as_py() == 8 * 3600 + 15 * 60


def test_the_same_feed_again_is_skipped(hub: Hub, broken_feed: Path) -> None:
    ingest_feed(hub, broken_feed)
    again = ingest_feed(hub, broken_feed)
    assert {r.status for r in again} == {"skipped"}


def test_a_new_version_of_the_feed_lands_no_transfer_twice(hub: Hub, broken_feed: Path) -> None:
    """A transfer's key holds trip and route ids that are empty for a stop-to-stop transfer: a key with
    NULLs must still match the landed row when a changed version of the feed comes."""
    ingest_feed(hub, broken_feed)
    stops = broken_feed / "stops.txt"
    stops.write_text(stops.read_text() + "F,Zeta,39.13,117.25,\n")
    again = {r.dataset: r for r in ingest_feed(hub, broken_feed)}
    assert (again["transit.stops"].landed, again["transit.transfers"].landed) == (1, 0)
    transfers = hub.table("transit.transfers", hub.connect()).to_pyarrow()
    assert transfers.num_rows == 1


def test_not_a_zip_and_a_feed_without_stops_are_refused_whole(hub: Hub, broken_feed: Path) -> None:
    result = ingest_bytes(hub, GtfsStops(feed="junk"), b"not a zip", source="junk")
    assert (result.read, result.quarantined) == (1, 1)
    (broken_feed / "stops.txt").unlink()
    parsed = GtfsStops(feed="demo").parse(feed_bytes(broken_feed))
    assert [(r.reason, r.location) for r in parsed.rejected] == [("gtfs.missing_required_file", None)]


@pytest.mark.realdata
def test_real_feed_lands_whole_with_ids_namespaced(hub: Hub) -> None:
    cairns = need_realdata(REALDATA / "gtfs" / "gtfs_kit" / "cairns_gtfs.zip")
    results = {r.dataset: r for r in ingest_feed(hub, cairns, feed="cairns")}
    assert {d: (r.landed, r.quarantined) for d, r in results.items()} == {
        "transit.stops": (416, 0),
        "transit.routes": (22, 0),
        "transit.trips": (1339, 0),
        "transit.stop_times": (37790, 0),
        "transit.calendar": (4, 0),
        "transit.calendar_dates": (9, 0),
        "transit.agencies": (1, 0),
        "transit.transfers": (0, 0),
        "transit.gtfs_findings": (1, 0),  # expired_calendar: the feed is of 2014
    }
    agencies = hub.table("transit.agencies", hub.connect()).to_pyarrow()
    assert agencies.select(["agency_id", "timezone", "lang"]).to_pylist() == [
        {"agency_id": "cairns:", "timezone": "Australia/Brisbane", "lang": "en"}  # agency_id left blank
    ]
    trips = hub.table("transit.trips", hub.connect()).to_pyarrow()
    assert all(t.startswith("cairns:") for t in trips["trip_id"].to_pylist())


@pytest.mark.realdata
def test_dthub_ingest_takes_a_feed_folder_as_one_source(tmp_path: Path) -> None:
    caltrain = need_realdata(REALDATA / "gtfs" / "partridge" / "caltrain-2017-07-24")
    env = {"DTHUB_HOME": str(tmp_path / "hub"), "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "-a", "gtfs.stop_times", "--json", str(caltrain)], env=env)
    assert result.exit_code == 0, result.output
    batch = json.loads(result.stdout.splitlines()[0])
    assert (batch["dataset"], batch["source"], batch["quarantined"]) == (
        "transit.stop_times",
        str(caltrain.resolve()),
        0,
    )
    assert batch["landed"] == batch["read"] > 2000
