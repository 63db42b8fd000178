"""The New York MTA subway and its six bus feeds landed at full size (8.0M stop times) through the hub's
`gtfs.*` adapters (`ingest_feed`) into a test hub on the embedded DuckDB lake: every row of every file is
read, and landed or quarantined with a finding; the findings of each feed counted by code; ids namespaced
by feed, so that the route ids the bus feeds share and the stop ids two bus feeds both publish stay apart.
The rows of the feed files are counted here from the zips, line by line, not by the GTFS reader."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import ibis
import pytest

from domains.transit.test_ingest_gtfs import BROKEN
from dthub.domains.transit.gtfs import feed_bytes
from dthub.domains.transit.ingest.gtfs import ADAPTERS, FeedCheck, GtfsFile, GtfsStopTimes, ingest_feed
from dthub.hub import quarantine
from dthub.hub.core import Hub
from fixtures.hub import REALDATA, need_realdata

FEEDS = ("subway", "bus_bk", "bus_bx", "bus_m", "bus_qns", "bus_si", "bus_busco")
LAST_DAY = {"subway": date(2026, 10, 31), **{feed: date(2027, 1, 2) for feed in FEEDS[1:]}}
"""The last day of service of each feed as published 2026-09-23: after it, the validator finds
`expired_calendar` (the ingest validates as of the day it runs)."""
FILES = {adapter.dataset: getattr(adapter, "file", None) for adapter in ADAPTERS}
"""Dataset → the GTFS file it is landed from (None for the findings)."""


def file_rows(path: Path) -> dict[str, int]:
    """Data rows of each .txt of a zip: its non-blank lines less the header (no GTFS field of these feeds
    spans lines)."""
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                lines = sum(bool(line.strip()) for line in member)
            counts[info.filename.rsplit("/", 1)[-1]] = max(lines - 1, 0)
    return counts


def count_by_feed(hub: Hub, dataset: str, column: str) -> dict[str, int]:
    """Rows of a dataset per feed, the feed read off the namespaced id in `column`."""
    table = hub.table(dataset, hub.connect())
    feed = table[column].re_extract(r"^([^:]+):", 1).name("feed")
    counted = table.group_by(feed).aggregate(rows=ibis._.count()).to_pyarrow().to_pylist()
    return {row["feed"]: row["rows"] for row in counted}


@pytest.mark.realdata
def test_nyc_subway_and_six_bus_feeds_land_whole_with_every_row_counted(hub: Hub) -> None:
    folder = need_realdata(REALDATA / "gtfs" / "nyc_mta")
    landed: dict[str, dict[str, int]] = {}
    quarantined: dict[str, int] = {}
    for feed in FEEDS:
        path = folder / f"{feed}.zip"
        rows = file_rows(path)
        results = ingest_feed(hub, path)
        assert {r.dataset for r in results} == set(FILES)
        for result in results:
            assert result.status == "committed", result
            assert result.landed + result.quarantined == result.read
            file = FILES[result.dataset]
            if file is not None:
                assert result.read == rows.get(file, 0), (feed, file)
            landed.setdefault(result.dataset, {})[feed] = result.landed
            quarantined[feed] = quarantined.get(feed, 0) + result.quarantined
    assert sum(landed["transit.stop_times"].values()) == 8_000_304

    # a quarantined row has the validator's finding at its file and row; none of these feeds has one
    findings = hub.table("transit.gtfs_findings", hub.connect()).to_pyarrow().to_pylist()
    located = {(f["feed"], f["file"], f["row"], f"gtfs.{f['code']}") for f in findings}
    page = quarantine.list_records(hub, limit=10_000)
    for record in page.records:
        feed = json.loads(record.raw)["feed"]
        assert (feed, FILES[record.dataset_id], record.location, record.reason) in located, record
    assert page.total == sum(quarantined.values()) == 0

    # what landed is in the lake, per feed, under namespaced ids
    assert count_by_feed(hub, "transit.stop_times", "trip_id") == landed["transit.stop_times"]
    assert count_by_feed(hub, "transit.stop_times", "stop_id") == landed["transit.stop_times"]
    assert count_by_feed(hub, "transit.trips", "trip_id") == landed["transit.trips"]
    routes = hub.table("transit.routes", hub.connect()).to_pyarrow()
    route_ids = routes["route_id"].to_pylist()
    assert len(set(route_ids)) == len(route_ids) == sum(landed["transit.routes"].values())
    published = Counter(route_id.split(":", 1)[1] for route_id in route_ids)
    assert sum(n > 1 for n in published.values()) > 250  # the bus feeds repeat one route list
    stops = hub.table("transit.stops", hub.connect()).to_pyarrow()
    stop_ids = stops["stop_id"].to_pylist()
    assert len(set(stop_ids)) == len(stop_ids) == sum(landed["transit.stops"].values())
    shared = Counter(stop_id.split(":", 1)[1] for stop_id in stop_ids if stop_id.startswith("bus_"))
    assert sum(n > 1 for n in shared.values()) >= 900  # bus stops two feeds publish, kept apart

    # the findings of each feed, by code
    by_feed = {feed: Counter(f["code"] for f in findings if f["feed"] == feed) for feed in FEEDS}
    today = date.today()
    assert by_feed == {
        feed: Counter({"expired_calendar": 1} if LAST_DAY[feed] < today else {}) for feed in FEEDS
    }
    assert landed["transit.gtfs_findings"] == {feed: sum(by_feed[feed].values()) for feed in FEEDS}


def test_adapters_sharing_one_check_refuse_the_rows_each_refuses_alone(tmp_path: Path) -> None:
    """`ingest_feed` reads and validates a feed once for all its adapters (`FeedCheck`): each adapter parses
    the same rows and refuses the same ones, with the same reasons, as it does reading the feed itself; an
    ERROR of the timing rules (times going back along a trip) is a finding, not a refusal, either way."""
    folder = tmp_path / "demo"
    folder.mkdir()
    for name, text in BROKEN.items():
        (folder / name).write_text(text)
    with (folder / "stop_times.txt").open("a") as stop_times:
        stop_times.write("T1,07:00:00,07:00:00,B,7\n")  # row 8: earlier than the stop before
    data = feed_bytes(folder)
    check = FeedCheck(data, "demo")
    assert ("stop_time_with_arrival_before_previous_departure_time", 8) in {
        (f.code, f.row) for f in check.findings() if f.severity == "ERROR"
    }
    for adapter in ADAPTERS:
        alone, shared = replace(adapter, feed="demo"), replace(adapter, feed="demo", check=check)
        by_itself, with_check = alone.parse(data), shared.parse(data)
        assert with_check.rows.equals(by_itself.rows), adapter.name
        assert with_check.rejected == by_itself.rejected, adapter.name
        if isinstance(alone, GtfsFile) and isinstance(shared, GtfsFile):
            rows = [r.location for r in by_itself.rejected if r.location is not None]
            assert shared.raw_records(data, rows) == alone.raw_records(data, rows)
    refused = GtfsStopTimes(feed="demo", check=check).parse(data).rejected
    assert [r.location for r in refused] == [3, 4, 5, 6, 7]
