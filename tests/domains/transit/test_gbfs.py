"""GBFS on the real Boulder BCycle feed: station_information and 24 h of station_status polls (2022-02-05),
decoded, landed as datasets, and the availability the planner reads."""

from __future__ import annotations

import gzip
import itertools
import json
import math

import pytest

from dthub.domains.transit.gbfs import (
    BikeRules,
    GbfsError,
    Station,
    StatusSnapshot,
    bike_trip,
    network_at,
    read_station_information,
    read_station_status,
)
from dthub.domains.transit.gbfs_ingest import GbfsStations, GbfsStationStatus
from dthub.hub.core import Hub
from dthub.hub.engine import to_arrow
from dthub.hub.ingest import ingest_bytes, ingest_file
from fixtures.hub import REALDATA, need_realdata

BOULDER = REALDATA / "bikeshare" / "boulder_bcycle_gbfs"
INFORMATION = BOULDER / "station_information.json"
STATUS = BOULDER / "station_status_2022-02-05_24h.jsonl.gz"
FOLSOM_COLORADO = (40.00811, -105.26385)
"""Station bcycle_boulder_1855, empty (0 bikes) at the first poll of the day."""
PEARL_STREET = (40.0180, -105.2790)


@pytest.fixture(scope="module")
def stations() -> list[Station]:
    return read_station_information(need_realdata(INFORMATION).read_bytes())


@pytest.fixture(scope="module")
def snapshots() -> list[StatusSnapshot]:
    return read_station_status(need_realdata(STATUS).read_bytes())


def test_boulder_feed_decodes(stations: list[Station], snapshots: list[StatusSnapshot]) -> None:
    assert len(stations) == 45
    assert stations[0].station_id == "bcycle_boulder_1855"
    assert stations[0].name == "Folsom & Colorado"
    assert len(snapshots) == 1396
    assert [s.last_updated for s in snapshots] == sorted(s.last_updated for s in snapshots)
    first = {s.station_id: s for s in snapshots[0].stations}
    assert (first["bcycle_boulder_1855"].bikes, first["bcycle_boulder_1855"].docks) == (0, 13)
    assert sorted({len(s.stations) for s in snapshots}) == [0, 45]  # two empty polls, as published


def test_a_station_entry_without_a_position_is_refused() -> None:
    with pytest.raises(GbfsError, match="lat"):
        read_station_information(b'{"data": {"stations": [{"station_id": "x", "lon": 1}]}}')
    with pytest.raises(GbfsError, match="negative"):
        read_station_status(
            b'{"last_updated": 1, "data": {"stations": '
            b'[{"station_id": "x", "num_bikes_available": -1, "num_docks_available": 3}]}}'
        )


def brute_force(
    stations: list[Station], snapshot: StatusSnapshot, rules: BikeRules
) -> tuple[float, str | None, str | None]:
    """The reference: every (pickup, drop-off) pair in plain Python."""

    def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
        p1, p2 = math.radians(a[0]), math.radians(b[0])
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2
        )
        return 2 * 6_371_000.0 * math.asin(math.sqrt(min(h, 1.0)))

    status = {s.station_id: s for s in snapshot.stations}
    best: tuple[float, str | None, str | None] = (math.inf, None, None)
    for a, b in itertools.permutations(stations, 2):
        sa, sb = status.get(a.station_id), status.get(b.station_id)
        if sa is None or sb is None or not (sa.installed and sa.renting and sa.bikes > 0):
            continue
        if not (sb.installed and sb.returning and sb.docks > 0):
            continue
        walk_to, walk_from = metres(FOLSOM_COLORADO, (a.lat, a.lon)), metres((b.lat, b.lon), PEARL_STREET)
        if walk_to > rules.walk_radius_m or walk_from > rules.walk_radius_m:
            continue
        ride = math.ceil(metres((a.lat, a.lon), (b.lat, b.lon)) * rules.detour / rules.ride_speed_mps)
        total = (
            math.ceil(walk_to / rules.walk_speed_mps)
            + rules.pickup_s
            + ride
            + rules.dropoff_s
            + math.ceil(walk_from / rules.walk_speed_mps)
        )
        if total < best[0]:
            best = (total, a.station_id, b.station_id)
    return best


def test_every_poll_of_the_day_picks_up_where_there_is_a_bike_and_docks_where_there_is_room(
    stations: list[Station], snapshots: list[StatusSnapshot]
) -> None:
    """All 1,396 polls: the pickup has a bike, the drop-off a dock, and the fastest pair equals the brute
    force; when Folsom & Colorado (at the origin) is empty, it is never the pickup."""
    rules = BikeRules(walk_radius_m=1200)
    empty_at_origin = 0
    for snapshot in snapshots:
        net = network_at(stations, [snapshot], snapshot.last_updated)
        trip = bike_trip(net, FOLSOM_COLORADO, PEARL_STREET, rules)
        if not snapshot.stations:
            assert trip is None  # an empty poll: nothing known, nothing offered
            continue
        want = brute_force(stations, snapshot, rules)
        if trip is None:
            assert want[1] is None
            continue
        assert net.bikes[trip.pickup] > 0
        assert net.docks[trip.dropoff] > 0
        assert trip.total_s == want[0]
        assert (net.station_ids[trip.pickup], net.station_ids[trip.dropoff]) == want[1:]
        if net.bikes[0] == 0:
            empty_at_origin += 1
            assert net.station_ids[trip.pickup] != "bcycle_boulder_1855"
    assert empty_at_origin > 0


def test_network_at_takes_the_latest_poll_at_or_before_the_moment(
    stations: list[Station], snapshots: list[StatusSnapshot]
) -> None:
    moment = snapshots[100].last_updated
    assert network_at(stations, snapshots, moment).at == moment
    assert network_at(stations, snapshots, moment - 1).at == snapshots[99].last_updated
    empty = next(n for n, s in enumerate(snapshots) if not s.stations)
    after_gap = network_at(stations, snapshots, snapshots[empty].last_updated)
    assert after_gap.pickup.any()  # the empty poll changes nothing: the poll before it still holds
    stale = network_at(stations, snapshots[:1], snapshots[0].last_updated + 901)
    assert not stale.pickup.any()
    before = network_at(stations, snapshots, snapshots[0].last_updated - 1)
    assert before.at is None
    assert not before.pickup.any()
    assert not before.dropoff.any()


def test_stations_and_polls_land_as_datasets(hub: Hub) -> None:
    stations = ingest_file(hub, GbfsStations(system="boulder_bcycle"), need_realdata(INFORMATION))
    assert (stations.landed, stations.quarantined) == (45, 0)
    lines = gzip.decompress(need_realdata(STATUS).read_bytes()).split(b"\n")[:30]
    polls = ingest_bytes(
        hub, GbfsStationStatus(system="boulder_bcycle"), b"\n".join(lines), source="30 polls"
    )
    assert polls.quarantined == 0
    rows = to_arrow(hub.table("transit.bike_station_status", hub.connect())).to_pylist()
    assert (
        len(rows) == polls.landed == sum(len(json.loads(line)["data"]["stations"]) for line in lines if line)
    )
    assert all(row["bikes_available"] >= 0 for row in rows)


def test_a_bad_status_entry_is_quarantined_as_a_replayable_document() -> None:
    line = json.dumps(
        {
            "last_updated": 1644027738,
            "data": {
                "stations": [
                    {"station_id": "a", "num_bikes_available": 2, "num_docks_available": 3},
                    {"station_id": "b", "num_bikes_available": "many"},
                ]
            },
        }
    )
    adapter = GbfsStationStatus(system="test")
    parsed = adapter.parse((line + "\nnot json\n").encode())
    assert parsed.rows.num_rows == 1
    assert [(r.reason, r.location) for r in parsed.rejected] == [("gbfs.bad_status", 1), ("gbfs.bad_json", 2)]
    fixed = parsed.rejected[0].raw.replace('"many"', "4")
    assert adapter.parse_raw(fixed).rows.to_pylist()[0]["bikes_available"] == 4
