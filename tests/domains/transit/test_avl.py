"""AVL analytics on one real day of Capital Metro (Austin) bus positions, 2017-04-18 (44,300 fixes), against
the CapMetrics timetable extract (2016-08-21 to 2017-01-21); and the measures' arithmetic on constructed
passages where the answer is known."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from dthub.domains.transit import avl
from dthub.domains.transit.gbfs import read_station_information, read_station_status
from dthub.domains.transit.geo import distance_m
from dthub.domains.transit.realtime_ingest import CapMetricsPositions
from fixtures.hub import REALDATA, need_realdata

CAPMETRO = REALDATA / "transit_avl" / "capmetro_austin"
BOULDER = REALDATA / "bikeshare" / "boulder_bcycle_gbfs"
DAY = date(2017, 4, 18)


@pytest.fixture(scope="module")
def austin() -> tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages]:
    folder: Path = need_realdata(CAPMETRO)
    stops = avl.read_stops((folder / "stops_20160821_20170121.csv.gz").read_bytes())
    schedule = avl.read_schedule((folder / "schedule_20160821_20170121.csv.gz").read_bytes(), stops)
    fixes = avl.positions_from_table(
        CapMetricsPositions().parse((folder / "2017-04-18.csv").read_bytes()).rows
    )
    found = avl.passages(fixes, stops, schedule, origin=avl.day_origin(DAY, "America/Chicago"))
    return stops, schedule, fixes, found


def test_schedule_extract_reads_as_stop_patterns(
    austin: tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages],
) -> None:
    stops, schedule, _, _ = austin
    assert len(stops.ids) == 2657
    assert len(schedule.trip_ids) == 14637
    assert len(schedule.patterns) == 326
    for trip in range(0, len(schedule.trip_ids), 97):
        times = schedule.trip_times(trip)
        assert len(times) == len(schedule.patterns[int(schedule.trip_pattern[trip])])
        assert (np.diff(times) >= 0).all()


def test_most_traces_match_a_pattern_and_pass_its_stops_in_order(
    austin: tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages],
) -> None:
    _, schedule, fixes, found = austin
    traces = len(found.traces) + sum(found.unmatched.values())
    assert len(found.traces) / traces > 0.9
    assert set(found.unmatched) <= {"too_few_fixes", "no_pattern"}
    origin = avl.day_origin(DAY, "America/Chicago")
    for trace in found.traces:
        assert (np.diff(trace.times) >= 0).all()
        assert (np.diff(trace.stops) == 1).all()  # consecutive stops of the pattern
        mine = (fixes.vehicle == trace.vehicle) & (fixes.trip == trace.trip)
        assert fixes.time[mine].min() - origin - 1 <= trace.times[0]
        assert trace.times[-1] <= fixes.time[mine].max() - origin + 1
        assert trace.stops[-1] < len(schedule.patterns[trace.pattern])


def test_a_fix_at_a_stop_is_close_to_the_passage_there(
    austin: tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages],
) -> None:
    """Where a trace passes a stop of its pattern with one fix within 15 m of it (and no other within
    150 m: not a dwell or layover), the passage time there is that fix's, within 2 minutes (fixes are about
    2 minutes apart), for at least 97% of such stops (measured: 99.3%; the rest are stops a trace passes
    twice, out and back on the same street)."""
    stops, schedule, fixes, found = austin
    origin = avl.day_origin(DAY, "America/Chicago")
    errors = []
    for trace in found.traces[::5]:
        mine = np.flatnonzero((fixes.vehicle == trace.vehicle) & (fixes.trip == trace.trip))
        for n, stop in enumerate(schedule.patterns[trace.pattern][trace.stops].tolist()):
            metres = distance_m(
                fixes.lat[mine],
                fixes.lon[mine],
                np.full(len(mine), stops.lat[stop]),
                np.full(len(mine), stops.lon[stop]),
            )
            if (metres < 15).sum() == 1 and (metres < 150).sum() == 1:
                fix = mine[int(np.argmin(metres))]
                errors.append(abs(int(trace.times[n]) - (int(fixes.time[fix]) - origin)))
    assert len(errors) > 500
    assert np.mean(np.asarray(errors) <= 120) >= 0.97


def test_on_time_windows_classify_every_passage(
    austin: tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages],
) -> None:
    _, schedule, _, found = austin
    default = avl.on_time(found, schedule)
    assert len(default.assigned) > 0.7 * len(found.traces)
    trips = [a.scheduled_trip for a in default.assigned]
    assert len(trips) == len(set(trips))  # each scheduled trip serves one trace
    every = np.concatenate([a.deviation for a in default.assigned])
    summary = avl.summarise(every, default.windows)
    assert summary["early"] + summary["on_time"] + summary["late"] == pytest.approx(1.0)
    assert summary["early"] == pytest.approx(float((every < -60).mean()))
    assert summary["late"] == pytest.approx(float((every > 300).mean()))
    wide = avl.on_time(found, schedule, windows=avl.Windows(early_s=300, late_s=600))
    wide_summary = avl.summarise(np.concatenate([a.deviation for a in wide.assigned]), wide.windows)
    assert wide_summary["on_time"] > summary["on_time"]
    routes = default.by_route()
    assert sum(r["passages"] for r in routes.values()) == summary["passages"]
    assert "801" in routes  # MetroRapid


def constructed() -> tuple[avl.StopTable, avl.Schedule]:
    """Two routes: A along stops 0-1-2, B along stops 3-2-4 (stop 2 is the interchange)."""
    stops = avl.StopTable(
        ids=np.asarray(["s0", "s1", "s2", "s3", "s4"], dtype=object),
        lat=np.asarray([30.00, 30.01, 30.02, 30.03, 30.04]),
        lon=np.asarray([-97.7, -97.7, -97.7, -97.71, -97.69]),
    )
    patterns = (np.asarray([0, 1, 2]), np.asarray([3, 2, 4]))
    trips = [
        (0, [3600, 3900, 4200]),
        (0, [5400, 5700, 6000]),
        (1, [3900, 4320, 4500]),
        (1, [5700, 6300, 6500]),
    ]
    schedule = avl.Schedule(
        trip_ids=np.asarray(["a1", "a2", "b1", "b2"], dtype=object),
        trip_pattern=np.asarray([p for p, _ in trips]),
        trip_start=np.asarray([0, 3, 6, 9, 12]),
        times=np.asarray([t for _, times in trips for t in times]),
        patterns=patterns,
    )
    return stops, schedule


def trace(route: str, pattern: int, times: list[int]) -> avl.Trace:
    return avl.Trace(
        vehicle=route + str(times[0]),
        trip=route,
        route=route,
        pattern=pattern,
        stops=np.arange(len(times)),
        times=np.asarray(times),
    )


def test_connections_made_and_missed_on_constructed_passages() -> None:
    stops, schedule = constructed()
    found = avl.Passages(
        (
            trace("A", 0, [3650, 3950, 4260]),  # a1, 60 s late at the interchange
            trace("A", 0, [5400, 5700, 6400]),  # a2, 400 s late: misses b2 (scheduled 6300, on time)
            trace("B", 1, [3900, 4330, 4500]),  # b1
            trace("B", 1, [5700, 6300, 6500]),  # b2
        ),
        {},
    )
    timed = avl.on_time(found, schedule)
    assert [a.scheduled_trip for a in timed.assigned] == [0, 1, 2, 3]
    result = avl.transfers(
        timed, schedule, stops, avl.TransferRules(min_transfer_s=60, rail_routes=frozenset({"B"}))
    )
    a_to_b = sorted(
        (c.scheduled_arrival_s, c.scheduled_departure_s, c.made)
        for c in result.connections
        if c.from_route == "A"
    )
    assert a_to_b == [(4200, 4320, True), (6000, 6300, False)]
    assert result.by_modes()["BUS->RAIL"] == {"connections": 2, "made": 0.5}


def test_headway_measures_on_constructed_passages() -> None:
    even = [trace("R", 0, [t, t + 60, t + 120]) for t in (0, 600, 1200, 1800)]
    found = avl.Passages(tuple(even), {})
    (first, *_) = avl.headways(found, None, start_s=0, end_s=4000)
    assert (first.passages, first.mean_headway_s, first.cv, first.wait_s, first.excess_wait_s) == (
        4,
        600,
        0,
        300,
        0,
    )
    bunched = [trace("R", 0, [t]) for t in (0, 300, 1200, 1500, 2400)]  # headways 300, 900, 300, 900
    (row,) = avl.headways(avl.Passages(tuple(bunched), {}), None, start_s=0, end_s=4000)
    assert row.mean_headway_s == 600
    assert row.cv == pytest.approx(0.5)
    assert row.wait_s == pytest.approx((2 * 300**2 + 2 * 900**2) / (2 * 2400))  # 375 s
    assert row.excess_wait_s == pytest.approx(75)


def test_headways_on_the_austin_evening_against_the_schedule(
    austin: tuple[avl.StopTable, avl.Schedule, avl.Positions, avl.Passages],
) -> None:
    _, schedule, _, found = austin
    rows = avl.headways(found, schedule, start_s=18 * 3600, end_s=22 * 3600)
    assert len(rows) > 1000
    with_schedule = [h for h in rows if h.scheduled_wait_s is not None]
    assert len(with_schedule) > 0.9 * len(rows)
    for h in rows:
        assert h.passages >= 3
        assert h.wait_s >= h.mean_headway_s / 2 - 1e-6
        assert h.excess_wait_s == pytest.approx(h.wait_s - (h.scheduled_wait_s or h.mean_headway_s / 2))


def test_bike_connections_follow_the_real_boulder_availability() -> None:
    """Arrivals constructed at Boulder stops (there is no Austin GBFS in the shared data), availability real:
    Folsom & Colorado (bcycle_boulder_1855, the only station within 200 m) is empty at the first poll of
    2022-02-05 and has a bike at 1644037958."""
    stations = read_station_information(need_realdata(BOULDER / "station_information.json").read_bytes())
    snapshots = read_station_status(
        need_realdata(BOULDER / "station_status_2022-02-05_24h.jsonl.gz").read_bytes()
    )
    folsom = (40.00811 + 0.0005, -105.26385)  # a stop 56 m north of the station
    far = (40.10, -105.10)  # no station within 200 m
    lat = np.asarray([folsom[0], folsom[0], folsom[0], far[0]])
    lon = np.asarray([folsom[1], folsom[1], folsom[1], far[1]])
    first, with_bike = snapshots[0].last_updated, 1644037958
    when = np.asarray([first, with_bike, first - 3600, with_bike])
    result = avl.bike_connections(lat, lon, when, stations, snapshots)
    assert result == avl.BikeConnections(arrivals=3, made=1, unknown=1, no_station=1)
